import { promises as fs } from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'

/** A temp path in the same folder as `target`, so the final rename never crosses file systems. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Writes a file so that readers only ever see the old or the complete new content:
 * write to a temp file beside it, fsync, then rename over the target.
 */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await fs.mkdir(dirname(target), { recursive: true })
  const tmp = tempPathFor(target)
  try {
    const handle = await fs.open(tmp, 'w')
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await fs.rename(tmp, target)
  } catch (err) {
    await fs.rm(tmp, { force: true })
    throw err
  }
}

/**
 * Builds a whole folder under a temp name and renames it into place, so a half-written folder
 * (a sample, a model) never appears under its final name. An existing target is replaced.
 */
export async function writeDirAtomic(target: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await fs.mkdir(dirname(target), { recursive: true })
  const tmp = tempPathFor(target)
  await fs.mkdir(tmp, { recursive: true })
  try {
    await fill(tmp)
    const old = `${tmp}.old`
    let hadOld = false
    try {
      await fs.rename(target, old)
      hadOld = true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    await fs.rename(tmp, target)
    if (hadOld) await fs.rm(old, { recursive: true, force: true })
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true })
    throw err
  }
}
