/**
 * The engine worker's side of the protocol (src/shared/engine-protocol.ts), independent of the
 * transport: a worker_thread (worker.ts) and Electron's utilityProcess (src/main/engine-worker.ts)
 * both call serveEngine with their message port.
 *
 * One request runs at a time, in arrival order; a cancel drops a queued request or aborts the
 * running one at its next stage. The model loads on the first request and stays warm.
 */
import { UserError } from '../../core/errors'
import { createShadowEngine, type ShadowEngine } from '../../engine/inference'
import { openShadowBlock, type ShadowBlock } from '../../engine/shadow-block'
import { engineRequests, isEngineRequestType, type EngineConfig, type EngineInfo, type EngineRequestMessage, type HostToWorker, type WorkerToHost } from '../../shared/engine-protocol'
import { generateForEditor } from './generate'

export interface WorkerPort {
  post(message: WorkerToHost): void
  onMessage(listener: (message: unknown) => void): void
  /** Ends the process/thread abruptly (the `crash` test request). */
  exit(code: number): never
}

export function serveEngine(port: WorkerPort, config: EngineConfig): void {
  let engine: Promise<{ engine: ShadowEngine; info: EngineInfo }> | null = null
  let block: Promise<ShadowBlock> | null = null
  const queue: EngineRequestMessage[] = []
  let running: { id: number; abort: AbortController } | null = null

  const loadEngine = () => {
    if (!engine) {
      const t0 = performance.now()
      engine = createShadowEngine({ modelDir: config.modelDir, runtime: config.runtime, threads: config.threads }).then((e) => ({
        engine: e,
        info: { runtime: e.runtime, backend: e.backend, detail: e.detail, modelDir: e.modelDir, modelName: e.manifest.name, inputSize: e.size, loadMs: performance.now() - t0 },
      }))
      // A failed load is not cached: the next request tries again (e.g. after the model is installed).
      engine.catch(() => (engine = null))
    }
    return engine
  }

  async function handle(req: EngineRequestMessage, signal: AbortSignal): Promise<unknown> {
    const spec = engineRequests[req.type]
    const parsed = spec.payload.safeParse(req.payload ?? {})
    if (!parsed.success) throw new UserError('BAD_REQUEST', `invalid engine ${req.type} request: ${parsed.error.issues[0]?.message ?? 'bad payload'}`)
    switch (req.type) {
      case 'crash':
        return port.exit(70)
      case 'load':
        return (await loadEngine()).info
      case 'generate': {
        port.post({ id: req.id, progress: { stage: 'load', fraction: 0, message: 'Loading the shadow model' } })
        const { engine: e, info } = await loadEngine()
        const payload = engineRequests.generate.payload.parse(req.payload)
        return generateForEditor(payload, {
          engine: e,
          info,
          signal,
          progress: (p) => port.post({ id: req.id, progress: p }),
          shadowBlock: () => (block ??= openShadowBlock(e.modelDir, e.runtime, { threads: config.threads })),
        })
      }
    }
  }

  async function pump() {
    if (running) return
    const req = queue.shift()
    if (!req) return
    const abort = new AbortController()
    running = { id: req.id, abort }
    try {
      const result = await handle(req, abort.signal)
      port.post({ id: req.id, result })
    } catch (err) {
      if (abort.signal.aborted) port.post({ id: req.id, error: { code: 'CANCELLED', message: 'cancelled' } })
      else if (err instanceof UserError) port.post({ id: req.id, error: { code: err.code, message: err.message } })
      else port.post({ id: req.id, error: { code: 'ENGINE_FAILED', message: `the shadow engine failed: ${err instanceof Error ? err.message : String(err)}` } })
    } finally {
      running = null
      void pump()
    }
  }

  port.onMessage((raw) => {
    const m = raw as HostToWorker
    if (!m || typeof m !== 'object' || typeof m.id !== 'number') return
    if ('cancel' in m) {
      const i = queue.findIndex((q) => q.id === m.id)
      if (i >= 0) {
        queue.splice(i, 1)
        port.post({ id: m.id, error: { code: 'CANCELLED', message: 'cancelled' } })
      } else if (running?.id === m.id) running.abort.abort()
      return
    }
    if (!isEngineRequestType(m.type)) {
      port.post({ id: m.id, error: { code: 'BAD_REQUEST', message: `unknown engine request '${String(m.type)}'` } })
      return
    }
    queue.push(m)
    void pump()
  })
  port.post({ id: 0, ready: { pid: process.pid } })
}
