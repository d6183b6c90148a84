/**
 * The app's side of the engine process: requests with ids, progress events, cancel, and crash
 * recovery, over any channel (a worker_thread here, Electron's utilityProcess in src/main).
 *
 * - The worker starts on the first request and is kept (the model stays warm in it).
 * - Requests are sent at once; the worker queues them and runs one at a time.
 * - If the worker dies, every request in flight fails with ENGINE_CRASHED (a message meant for the
 *   user); the next request starts a fresh worker. `onStatus` tells the UI either way.
 */
import { Worker } from 'node:worker_threads'
import { UserError } from '../../core/errors'
import {
  engineRequests,
  parseWorkerMessage,
  type EngineConfig,
  type EngineInfo,
  type EnginePayload,
  type EngineProgress,
  type EngineRequestType,
  type EngineResult,
  type HostToWorker,
} from '../../shared/engine-protocol'

/** One running worker, whatever it is. */
export interface EngineChannel {
  post(message: HostToWorker): void
  onMessage(listener: (message: unknown) => void): void
  /** Called once when the worker ends (crash, kill); `reason` for people. */
  onExit(listener: (reason: string) => void): void
  kill(): void
}

export type EngineStatus =
  | { state: 'idle' | 'starting' }
  | { state: 'ready'; info: EngineInfo }
  | { state: 'crashed'; message: string; restarts: number }

export interface EngineCallOptions {
  onProgress?(p: EngineProgress): void
  signal?: AbortSignal
}

interface Pending {
  resolve(v: unknown): void
  reject(e: unknown): void
  onProgress?(p: EngineProgress): void
  type: EngineRequestType
}

export class EngineHost {
  private channel: EngineChannel | null = null
  private pending = new Map<number, Pending>()
  private seq = 0
  private restarts = 0
  status: EngineStatus = { state: 'idle' }
  private statusListeners = new Set<(s: EngineStatus) => void>()

  constructor(private readonly spawn: () => EngineChannel) {}

  onStatus(listener: (s: EngineStatus) => void): () => void {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  private setStatus(s: EngineStatus) {
    this.status = s
    for (const l of this.statusListeners) l(s)
  }

  private ensure(): EngineChannel {
    if (this.channel) return this.channel
    this.setStatus({ state: 'starting' })
    const ch = this.spawn()
    this.channel = ch
    ch.onMessage((raw) => {
      const m = parseWorkerMessage(raw)
      if (!m || m.id === 0) return
      const p = this.pending.get(m.id)
      if (!p) return
      if ('progress' in m) {
        p.onProgress?.(m.progress)
      } else if ('error' in m) {
        this.pending.delete(m.id)
        p.reject(new UserError(m.error.code, m.error.message))
      } else if ('result' in m) {
        this.pending.delete(m.id)
        const parsed = engineRequests[p.type].result.safeParse(m.result)
        if (!parsed.success) p.reject(new UserError('ENGINE_FAILED', `the shadow engine sent a bad ${p.type} reply`))
        else {
          if (p.type === 'load' || p.type === 'generate') {
            const info = p.type === 'load' ? (parsed.data as EngineInfo) : (parsed.data as EngineResult<'generate'>).engine
            this.setStatus({ state: 'ready', info })
          }
          p.resolve(parsed.data)
        }
      }
    })
    ch.onExit((reason) => {
      if (this.channel !== ch) return
      this.channel = null
      const failed = [...this.pending.values()]
      this.pending.clear()
      if (this.closing) return
      this.restarts++
      const message = `The shadow engine stopped unexpectedly (${reason}). It will restart on the next request; your composition is unchanged.`
      this.setStatus({ state: 'crashed', message, restarts: this.restarts })
      for (const p of failed) p.reject(new UserError('ENGINE_CRASHED', message))
    })
    return ch
  }

  private closing = false

  call<T extends EngineRequestType>(type: T, payload: EnginePayload<T>, options: EngineCallOptions = {}): Promise<EngineResult<T>> {
    if (this.closing) return Promise.reject(new UserError('ENGINE_CLOSED', 'the shadow engine is shut down'))
    options.signal?.throwIfAborted()
    const ch = this.ensure()
    const id = ++this.seq
    return new Promise<EngineResult<T>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress: options.onProgress, type })
      options.signal?.addEventListener('abort', () => this.cancel(id), { once: true })
      ch.post({ id, type, payload })
    })
  }

  /** Cancels request `id` (it fails with CANCELLED). */
  cancel(id: number): void {
    if (this.pending.has(id)) this.channel?.post({ id, cancel: true })
  }

  /**
   * Ends the worker when nothing is in flight, so the next request starts a fresh one (which reads
   * its configuration again: e.g. another active model). Refused while a request runs.
   */
  reset(): void {
    if (this.pending.size > 0) throw new UserError('ENGINE_BUSY', 'the shadow engine is busy: try again when the current shadow is done')
    const ch = this.channel
    this.channel = null // its exit is then not a crash
    ch?.kill()
    this.setStatus({ state: 'idle' })
  }

  /** Ids of the requests not answered yet. */
  get inFlight(): number[] {
    return [...this.pending.keys()]
  }

  async close(): Promise<void> {
    this.closing = true
    const ch = this.channel
    this.channel = null
    for (const p of this.pending.values()) p.reject(new UserError('ENGINE_CLOSED', 'the shadow engine is shut down'))
    this.pending.clear()
    ch?.kill()
  }
}

/** A worker_thread running src/jobs/engine/worker.ts (through tsx, so it works from a checkout). */
export function threadChannel(config: EngineConfig): EngineChannel {
  const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: config })
  let exited = false
  const exitListeners: ((reason: string) => void)[] = []
  const fire = (reason: string) => {
    if (exited) return
    exited = true
    for (const l of exitListeners) l(reason)
  }
  worker.on('error', (err) => fire(err.message.split('\n')[0]))
  worker.on('exit', (code) => fire(`exit code ${code}`))
  return {
    post: (m) => worker.postMessage(m),
    onMessage: (l) => worker.on('message', l),
    onExit: (l) => void exitListeners.push(l),
    kill: () => void worker.terminate(),
  }
}

/** `config` may be a function: it is read each time a worker starts (after reset(), a crash). */
export function createThreadEngineHost(config: EngineConfig | (() => EngineConfig) = {}): EngineHost {
  return new EngineHost(() => threadChannel(typeof config === 'function' ? config() : config))
}
