import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { writeDirAtomic } from '../core/atomic'
import { encodeImage } from '../core/image'
import { PAIR_FILES } from '../shared/pair-format'
import type { RenderedPair } from './render'

/** Folder name of the sample rendered from `seed`: zero-padded so folders sort in seed order. */
export function sampleId(seed: number): string {
  return String(seed).padStart(8, '0')
}

/**
 * Writes one pair folder (the project's pair format) atomically: the files go into a temp folder
 * that is renamed into place, so a half-written sample never has its final name.
 */
export async function writePairFolder(target: string, pair: RenderedPair): Promise<void> {
  const images = [
    [PAIR_FILES.noShadow, pair.noShadow],
    [PAIR_FILES.shadow, pair.shadow],
    [PAIR_FILES.object, pair.object],
    [PAIR_FILES.objectShadow, pair.objectShadow],
    [PAIR_FILES.occluders, pair.occluders],
    [PAIR_FILES.occluderShadows, pair.occluderShadows],
  ] as const
  const encoded = await Promise.all(images.map(([, img]) => encodeImage(img, { format: 'png' })))
  await writeDirAtomic(target, async (tmp) => {
    // Plain writes are enough inside the temp folder: the folder rename is the atomic step.
    for (let i = 0; i < images.length; i++) await fs.writeFile(join(tmp, images[i][0]), encoded[i])
    await fs.writeFile(join(tmp, PAIR_FILES.meta), JSON.stringify(pair.meta, null, 1) + '\n')
  })
}
