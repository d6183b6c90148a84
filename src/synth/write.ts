import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { writeDirAtomic } from '../core/atomic'
import sharp from 'sharp'
import type { RawImage } from '../core/image'
import { PAIR_FILES } from '../shared/pair-format'
import type { RenderedPair } from './render'

/** PNG of a raw image; one-channel masks stay one-channel (8-bit greyscale), as the pair format says. */
export async function encodePng(img: RawImage): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels },
  })
  return (img.channels === 1 ? s.toColourspace('b-w') : s).png({ compressionLevel: 6 }).toBuffer()
}

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
  const encoded = await Promise.all(images.map(([, img]) => encodePng(img)))
  await writeDirAtomic(target, async (tmp) => {
    // Plain writes are enough inside the temp folder: the folder rename is the atomic step.
    for (let i = 0; i < images.length; i++) await fs.writeFile(join(tmp, images[i][0]), encoded[i])
    await fs.writeFile(join(tmp, PAIR_FILES.meta), JSON.stringify(pair.meta, null, 1) + '\n')
  })
}
