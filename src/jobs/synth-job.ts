/**
 * A synth run: renders samples `seed .. seed+count-1` into pair folders under `out`, skipping the
 * folders that already exist (resume), on worker threads or in process, with progress and cancel.
 */
import { promises as fs } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { UserError } from '../core/errors'
import { renderPair, type RenderedPair } from '../synth/render'
import { loadTextures, type TextureSet } from '../synth/textures'
import { sampleId, writePairFolder } from '../synth/write'
import type { WorkerReply } from '../synth/worker'

export interface SynthProgress {
  /** Samples finished in this run plus those found already done. */
  done: number
  total: number
  skipped: number
  rendered: number
  /** Rendered samples per second in this run. */
  rate: number
}

export interface SynthJobOptions {
  out: string
  count: number
  size?: number
  /** First sample seed; sample i uses seed + i and is written to folder sampleId(seed + i). */
  seed?: number
  /** Folder of photos for textures; procedural textures when absent. */
  textures?: string | null
  /** Worker threads; 0 renders in this thread. Default: the machine's cores. */
  workers?: number
  signal?: AbortSignal
  onProgress?: (p: SynthProgress) => void
  /** Called once the textures are loaded (skipped files, count). */
  onTextures?: (set: TextureSet) => void
  /** Writes one sample folder (tests inject failures here; in-process runs only). */
  writer?: (dir: string, pair: RenderedPair) => Promise<void>
}

export interface SynthJobResult {
  out: string
  total: number
  skipped: number
  rendered: number
  seconds: number
  samplesPerSecond: number
  cancelled: boolean
  workers: number
}

export const MAX_SYNTH_SIZE = 1024
export const MIN_SYNTH_SIZE = 32
/** Rough size of one 256 px sample on disk, for the free-space check. */
const BYTES_PER_SAMPLE_256 = 200_000

const TEMP_NAME = /^\..+\.\d+\.[0-9a-f]{8}\.tmp(\.old)?$/

function validate(opts: SynthJobOptions): Required<Pick<SynthJobOptions, 'count' | 'size' | 'seed' | 'workers'>> {
  const { count, size = 256, seed = 0, workers = availableParallelism() } = opts
  if (!Number.isInteger(count) || count < 1) throw new UserError('BAD_ARGS', `count must be a whole number of at least 1, got ${count}`)
  if (!Number.isInteger(size) || size < MIN_SYNTH_SIZE || size > MAX_SYNTH_SIZE) throw new UserError('BAD_ARGS', `size must be a whole number from ${MIN_SYNTH_SIZE} to ${MAX_SYNTH_SIZE}, got ${size}`)
  if (!Number.isSafeInteger(seed) || seed < 0 || seed + count > Number.MAX_SAFE_INTEGER) throw new UserError('BAD_ARGS', `seed must be a whole number of at least 0, got ${seed}`)
  if (!Number.isInteger(workers) || workers < 0 || workers > 256) throw new UserError('BAD_ARGS', `workers must be a whole number from 0 to 256, got ${workers}`)
  return { count, size, seed, workers }
}

function isNoSpace(code: string | null | undefined): boolean {
  return code === 'ENOSPC' || code === 'EDQUOT'
}

function noSpaceError(out: string, rendered: number): UserError {
  return new UserError('NO_SPACE', `no space left on the device holding ${out} (after ${rendered} new samples); free some space and rerun the same command to resume`)
}

/** Creates the output folder, removes temp folders left by an interrupted run, lists finished samples. */
async function prepareOutput(out: string): Promise<Set<string>> {
  try {
    const st = await fs.stat(out)
    if (!st.isDirectory()) throw new UserError('OUT_NOT_A_FOLDER', `--out ${out} is a file; give a folder`)
  } catch (err) {
    if (err instanceof UserError) throw err
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError('OUT_UNREADABLE', `cannot use ${out}: ${(err as Error).message}`)
  }
  try {
    await fs.mkdir(out, { recursive: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (isNoSpace(code)) throw noSpaceError(out, 0)
    throw new UserError('OUT_UNWRITABLE', `cannot create ${out}: ${(err as Error).message}`)
  }
  const names = await fs.readdir(out)
  const done = new Set<string>()
  for (const name of names) {
    if (TEMP_NAME.test(name)) await fs.rm(join(out, name), { recursive: true, force: true })
    else if (/^\d+$/.test(name)) done.add(name)
  }
  return done
}

async function checkFreeSpace(out: string, samples: number, size: number): Promise<void> {
  let free: number
  try {
    const s = await fs.statfs(out)
    free = s.bavail * s.bsize
  } catch {
    return // statfs is not available everywhere; the write errors still catch a full disk
  }
  const per = (BYTES_PER_SAMPLE_256 * size * size) / (256 * 256)
  if (free < per * Math.min(samples, 2)) throw noSpaceError(out, 0)
}

export async function runSynthJob(opts: SynthJobOptions): Promise<SynthJobResult> {
  const { count, size, seed, workers } = validate(opts)
  const out = opts.out
  if (!out) throw new UserError('BAD_ARGS', 'an output folder is required')
  const textures = await loadTextures(opts.textures ?? null)
  opts.onTextures?.(textures)
  const done = await prepareOutput(out)
  const todo: number[] = []
  for (let i = 0; i < count; i++) if (!done.has(sampleId(seed + i))) todo.push(seed + i)
  const skipped = count - todo.length
  await checkFreeSpace(out, todo.length, size)
  const start = performance.now()
  let rendered = 0
  const report = (): void => {
    const secs = (performance.now() - start) / 1000
    opts.onProgress?.({ done: skipped + rendered, total: count, skipped, rendered, rate: secs > 0 ? rendered / secs : 0 })
  }
  report()
  let cancelled = false
  if (todo.length > 0) {
    if (workers === 0) {
      const write = opts.writer ?? writePairFolder
      for (const s of todo) {
        if (opts.signal?.aborted) {
          cancelled = true
          break
        }
        const pair = renderPair(s, { size, textures })
        try {
          await write(join(out, sampleId(s)), pair)
        } catch (err) {
          if (isNoSpace((err as NodeJS.ErrnoException).code)) throw noSpaceError(out, rendered)
          throw err
        }
        rendered++
        report()
        // Let abort handlers and I/O run between samples.
        await new Promise<void>((r) => setImmediate(r))
      }
    } else {
      cancelled = await runOnWorkers(todo, Math.min(workers, todo.length), textures, size, out, opts.signal, () => {
        rendered++
        report()
      }, () => rendered)
    }
  }
  const seconds = (performance.now() - start) / 1000
  return { out, total: count, skipped, rendered, seconds, samplesPerSecond: seconds > 0 ? rendered / seconds : 0, cancelled, workers }
}

function runOnWorkers(
  todo: number[],
  n: number,
  textures: TextureSet,
  size: number,
  out: string,
  signal: AbortSignal | undefined,
  onDone: () => void,
  renderedSoFar: () => number,
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const entry = new URL('../synth/worker-entry.mjs', import.meta.url)
    const pool: Worker[] = []
    let next = 0
    let inFlight = 0
    let failed: Error | null = null
    let stopping = false
    let finished = false
    const finish = (): void => {
      if (finished) return
      finished = true
      signal?.removeEventListener('abort', onAbort)
      void Promise.all(pool.map((w) => w.terminate())).then(() => {
        if (failed) reject(failed)
        else resolve(stopping && !failed)
      })
    }
    const feed = (w: Worker): void => {
      if (stopping || failed) {
        if (inFlight === 0) finish()
        return
      }
      if (next >= todo.length) {
        if (inFlight === 0) finish()
        return
      }
      inFlight++
      w.postMessage({ type: 'task', seed: todo[next++] })
    }
    const onAbort = (): void => {
      stopping = true
      if (inFlight === 0) finish()
    }
    if (signal?.aborted) {
      resolve(true)
      return
    }
    signal?.addEventListener('abort', onAbort)
    for (let k = 0; k < n; k++) {
      const w = new Worker(entry, { workerData: null })
      pool.push(w)
      w.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') {
          // Two tasks queued per worker keep it busy while the main thread handles replies.
          feed(w)
          feed(w)
          return
        }
        inFlight--
        if (msg.type === 'error') {
          if (!failed) failed = isNoSpace(msg.code) ? noSpaceError(out, renderedSoFar()) : new Error(`sample seed ${msg.seed} failed: ${msg.message}`)
        } else onDone()
        feed(w)
      })
      w.on('error', (err) => {
        if (!failed) failed = err
        inFlight = 0
        finish()
      })
      w.postMessage({ type: 'init', textures, size, outDir: out })
    }
  })
}
