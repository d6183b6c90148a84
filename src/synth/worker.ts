/**
 * Worker thread of `umbra synth`: renders and writes the samples the main thread hands it.
 * Textures arrive once, backed by SharedArrayBuffers, so all workers share one copy.
 */
import { parentPort } from 'node:worker_threads'
import { join } from 'node:path'
import { renderPair } from './render'
import { sampleId, writePairFolder } from './write'
import type { TextureSet } from './textures'

export interface WorkerInit {
  type: 'init'
  textures: TextureSet
  size: number
  outDir: string
}
export interface WorkerTask {
  type: 'task'
  seed: number
}
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'done'; seed: number; ms: number }
  | { type: 'error'; seed: number; code: string | null; message: string }

let init: WorkerInit | null = null
const port = parentPort
if (!port) throw new Error('synth worker must run in a worker thread')

port.on('message', (msg: WorkerInit | WorkerTask) => {
  if (msg.type === 'init') {
    init = msg
    port.postMessage({ type: 'ready' } satisfies WorkerReply)
    return
  }
  void runTask(msg.seed)
})

// Tasks run one after another even when two are queued, so the thread never interleaves renders.
let chain: Promise<void> = Promise.resolve()
function runTask(seed: number): Promise<void> {
  chain = chain.then(async () => {
    const cfg = init
    if (!cfg) throw new Error('task before init')
    const t0 = performance.now()
    try {
      const pair = renderPair(seed, { size: cfg.size, textures: cfg.textures })
      await writePairFolder(join(cfg.outDir, sampleId(seed)), pair)
      port!.postMessage({ type: 'done', seed, ms: performance.now() - t0 } satisfies WorkerReply)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      port!.postMessage({ type: 'error', seed, code: e.code ?? null, message: e.message } satisfies WorkerReply)
    }
  })
  return chain
}
