/**
 * Resume: which inputs an earlier run already finished. Kept in `.umbra-batch-state.json` in the
 * output folder, rewritten atomically after each finished item (writes coalesced: at most one in
 * flight, always the newest snapshot), so a kill -9 at any moment leaves either the old or the new
 * state, never a torn one.
 *
 * An input counts as done only when ALL of these hold: it is recorded, its recorded fingerprint
 * (size + mtime of the photo and its mask) matches the file now, it was made with the same settings
 * (format, quality, layers, projects, background, placement, model), and every output it wrote
 * still exists. Anything else is redone; --force redoes everything.
 */
import { promises as fs } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { createHash } from 'node:crypto'
import { writeFileAtomic } from '../../core/atomic'
import { STATE_FILE } from './discover'
import type { PlannedItem } from './types'

export const STATE_VERSION = 1

export interface FileFingerprint {
  size: number
  mtimeMs: number
}

interface DoneEntry {
  settings: string
  input: FileFingerprint
  mask?: FileFingerprint
  /** Output paths relative to the output folder ('/' separated). */
  outputs: string[]
  at: string
}

interface StateFile {
  format: 'umbra-batch-state'
  version: number
  done: Record<string, DoneEntry>
}

export async function fingerprint(path: string): Promise<FileFingerprint | null> {
  const st = await fs.stat(path).catch(() => null)
  return st ? { size: st.size, mtimeMs: Math.round(st.mtimeMs) } : null
}

function same(a: FileFingerprint | null | undefined, b: FileFingerprint | null | undefined): boolean {
  if (!a || !b) return a === b
  return a.size === b.size && a.mtimeMs === b.mtimeMs
}

/** A short hash of everything that changes what an input's outputs look like. */
export function settingsKey(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16)
}

export class BatchState {
  private readonly path: string
  private data: StateFile
  private writing: Promise<void> | null = null
  private dirty = false

  private constructor(
    private readonly outDir: string,
    data: StateFile,
  ) {
    this.path = join(outDir, STATE_FILE)
    this.data = data
  }

  /** Reads the state of an output folder; a missing or unreadable state file means nothing is done. */
  static async load(outDir: string): Promise<BatchState> {
    const dir = resolve(outDir)
    let data: StateFile = { format: 'umbra-batch-state', version: STATE_VERSION, done: {} }
    try {
      const raw = JSON.parse(await fs.readFile(join(dir, STATE_FILE), 'utf8')) as StateFile
      if (raw && raw.format === 'umbra-batch-state' && raw.version === STATE_VERSION && raw.done && typeof raw.done === 'object') data = raw
    } catch {
      // no state yet, or a damaged one: everything is redone (outputs are replaced atomically)
    }
    return new BatchState(dir, data)
  }

  private relOut(path: string): string {
    return relative(this.outDir, path).split(sep).join('/')
  }

  async isDone(item: PlannedItem, settings: string): Promise<boolean> {
    const e = this.data.done[item.rel]
    if (!e || e.settings !== settings) return false
    const outputs = Object.values(item.outputs).map((p) => this.relOut(p))
    if (outputs.length !== e.outputs.length || outputs.some((o) => !e.outputs.includes(o))) return false
    const [input, mask] = await Promise.all([fingerprint(item.input), item.mask ? fingerprint(item.mask) : Promise.resolve(undefined)])
    if (!same(input, e.input) || !same(mask ?? undefined, e.mask)) return false
    const present = await Promise.all(Object.values(item.outputs).map((p) => fs.stat(p).then((s) => s.isFile() && s.size > 0, () => false)))
    return present.every(Boolean)
  }

  async markDone(item: PlannedItem, settings: string, fp: { input: FileFingerprint; mask?: FileFingerprint }): Promise<void> {
    this.data.done[item.rel] = { settings, input: fp.input, mask: fp.mask, outputs: Object.values(item.outputs).map((p) => this.relOut(p)), at: new Date().toISOString() }
    this.schedule()
  }

  forget(rel: string): void {
    if (this.data.done[rel]) {
      delete this.data.done[rel]
      this.schedule()
    }
  }

  private schedule(): void {
    this.dirty = true
    if (this.writing) return
    this.writing = (async () => {
      try {
        while (this.dirty) {
          this.dirty = false
          await writeFileAtomic(this.path, JSON.stringify(this.data))
        }
      } finally {
        this.writing = null
      }
    })()
  }

  /** Waits until the newest state is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing
  }
}

/**
 * Removes temp files that a killed run left in the output folder (`.NAME.PID.HEX.tmp`, the
 * pattern of src/core/atomic.ts) whose process is gone; files of a live process are left alone.
 */
export async function removeStaleTempFiles(outDir: string): Promise<number> {
  let removed = 0
  const pattern = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp(\.old)?$/
  const visit = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      const path = join(dir, e.name)
      if (e.isDirectory() && !pattern.test(e.name)) {
        await visit(path)
        continue
      }
      const m = pattern.exec(e.name)
      if (!m) continue
      const pid = Number(m[1])
      if (pid === process.pid || processAlive(pid)) continue
      await fs.rm(path, { recursive: true, force: true })
      removed++
    }
  }
  await visit(resolve(outDir))
  return removed
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
