/**
 * Where items run: a pool of worker_threads (each with its own warm engine and sharp pipelines, so
 * both cores work and decode/inference/encode overlap), or this thread (--workers 0: one engine,
 * several items in flight; sharp's own threads still overlap with inference).
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import sharp from 'sharp'
import { UserError } from '../../core/errors'
import { createShadowEngine, type ShadowEngine } from '../../engine/inference'
import { ItemProcessor } from './process-item'
import { workerEntry } from './entries'
import type { ItemOutcome, PlannedItem } from './types'
import type { WorkerConfig, WorkerReply, WorkerRequest } from './worker'

export interface Executor {
  runtime: string
  detail: string
  workers: number
  /** Items that can be submitted now without waiting. */
  free(): number
  submit(item: PlannedItem): Promise<ItemOutcome>
  /** Items not yet writing stop at their next stage and come back as cancelled. */
  cancel(): void
  /** Called when capacity appears without an item finishing (a replacement worker came up). */
  onCapacity?(listener: () => void): void
  close(): Promise<void>
}

export interface ExecutorOptions {
  workers: number
  inFlight: number
  config: WorkerConfig
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()))
}

export async function startExecutor(opts: ExecutorOptions): Promise<Executor> {
  return opts.workers <= 0 ? startInProcess(opts) : startPool(opts)
}

async function startInProcess(opts: ExecutorOptions): Promise<Executor> {
  if (opts.config.sharpConcurrency) sharp.concurrency(opts.config.sharpConcurrency)
  const engine: ShadowEngine = await createShadowEngine(opts.config.engine)
  const processor = new ItemProcessor(engine, opts.config.processor)
  let cancelled = false
  let inFlight = 0
  return {
    runtime: engine.runtime,
    detail: engine.detail,
    workers: 0,
    free: () => opts.inFlight - inFlight,
    async submit(item) {
      inFlight++
      try {
        return await processor.process(item, () => cancelled)
      } finally {
        inFlight--
      }
    },
    cancel: () => void (cancelled = true),
    close: () => engine.dispose(),
  }
}

interface PoolWorker {
  worker: Worker
  /** Ready and taking items. */
  alive: boolean
  /** Started, engine not loaded yet. */
  starting: boolean
  pending: Map<number, { item: PlannedItem; resolve: (o: ItemOutcome) => void }>
}

async function startPool(opts: ExecutorOptions): Promise<Executor> {
  const entry = workerEntry('batch-worker', './worker-entry.mjs', import.meta.url)
  const pool: PoolWorker[] = []
  let running = false
  let closing = false
  let cancelled = false
  let respawns = 0
  // A worker that dies (out of memory on a giant image, a crash in native code) is replaced, a few times.
  const maxRespawns = 3 * opts.workers
  let onCapacity: (() => void) | null = null

  const spawnWorker = (): Promise<{ runtime: string; detail: string }> => {
    const worker = new Worker(entry, { workerData: opts.config })
    const w: PoolWorker = { worker, alive: false, starting: true, pending: new Map() }
    pool.push(w)
    return new Promise((resolve, reject) => {
      worker.on('message', (m: WorkerReply) => {
        if (m.type === 'ready') {
          w.alive = true
          w.starting = false
          if (cancelled) worker.postMessage({ type: 'cancel' } satisfies WorkerRequest)
          resolve({ runtime: m.runtime, detail: m.detail })
          onCapacity?.()
        } else if (m.type === 'fatal') {
          reject(new UserError(m.code, m.message))
        } else if (m.type === 'outcome') {
          const p = w.pending.get(m.outcome.index)
          w.pending.delete(m.outcome.index)
          p?.resolve(m.outcome)
        }
      })
      const dead = (why: string) => {
        if (!w.alive && !w.starting) return
        w.alive = false
        w.starting = false
        pool.splice(pool.indexOf(w), 1)
        reject(new UserError('WORKER_FAILED', `a batch worker stopped: ${why}`))
        // Whatever it was doing fails; the other workers go on.
        for (const [index, p] of w.pending) p.resolve({ index, ok: false, code: 'WORKER_FAILED', reason: `the worker processing it stopped (${why})`, warnings: [] })
        w.pending.clear()
        if (running && !closing && respawns < maxRespawns) {
          respawns++
          spawnWorker().catch(() => onCapacity?.())
        }
        onCapacity?.()
      }
      worker.on('error', (err) => dead(err.message))
      worker.on('exit', (code) => dead(`exit code ${code}`))
    })
  }

  let first: { runtime: string; detail: string }
  try {
    ;[first] = await Promise.all(Array.from({ length: opts.workers }, spawnWorker))
  } catch (err) {
    closing = true
    await Promise.all(pool.map((w) => w.worker.terminate()))
    throw err
  }
  running = true
  const alive = () => pool.filter((w) => w.alive)
  return {
    runtime: first.runtime,
    detail: first.detail,
    workers: opts.workers,
    free: () => {
      const live = alive()
      // No worker left and none coming: let items through so that they fail at once, not wait forever.
      if (!live.length && !pool.some((w) => w.starting)) return 1
      return live.reduce((n, w) => n + Math.max(0, opts.inFlight - w.pending.size), 0)
    },
    onCapacity: (listener) => void (onCapacity = listener),
    submit(item) {
      const candidates = alive()
      if (!candidates.length) return Promise.resolve({ index: item.index, ok: false, code: 'WORKER_FAILED', reason: 'no batch worker is running', warnings: [] })
      const w = candidates.reduce((a, b) => (b.pending.size < a.pending.size ? b : a))
      return new Promise((resolve) => {
        w.pending.set(item.index, { item, resolve })
        w.worker.postMessage({ type: 'item', item } satisfies WorkerRequest)
      })
    },
    cancel() {
      cancelled = true
      for (const w of alive()) w.worker.postMessage({ type: 'cancel' } satisfies WorkerRequest)
    },
    async close() {
      closing = true
      await Promise.all(
        [...pool].map(async (w) => {
          if (!w.alive && !w.starting) return
          w.alive = false
          w.starting = false
          const exited = new Promise<void>((resolve) => w.worker.once('exit', () => resolve()))
          w.worker.postMessage({ type: 'close' } satisfies WorkerRequest)
          // A worker that does not close promptly (stuck in native code) is stopped.
          const timer = setTimeout(() => void w.worker.terminate(), 5000)
          await exited
          clearTimeout(timer)
        }),
      )
    },
  }
}
