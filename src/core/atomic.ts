import { promises as fs } from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { UserError } from './errors'

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

/**
 * Runs `fn` holding DIR/.lock (this process's pid): a second process that works on the same folder
 * gets a clear RUN_BUSY error instead of both writing checkpoints over each other. A lock left by a
 * process that no longer exists (killed hard) is taken over.
 */
export async function withFolderLock<T>(dir: string, what: string, fn: () => Promise<T>): Promise<T> {
  const created = (await fs.mkdir(dir, { recursive: true })) !== undefined
  const file = join(dir, '.lock')
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' })
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(pid) && pid > 0 && processExists(pid)) {
        throw new UserError('RUN_BUSY', `${dir} is in use by another ${what} (process ${pid}): stop it first (if none is running, delete ${file})`)
      }
      await fs.rm(file, { force: true })
    }
  }
  try {
    return await fn()
  } finally {
    await fs.rm(file, { force: true })
    // A folder made only for the lock (the run failed before writing anything) goes again.
    if (created) await fs.rmdir(dir).catch(() => {})
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by someone else
  }
}
