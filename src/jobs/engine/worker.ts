/** The engine worker thread (web bridge, CLI, tests): the protocol served over parentPort. */
import { parentPort, workerData } from 'node:worker_threads'
import type { EngineConfig } from '../../shared/engine-protocol'
import { serveEngine } from './serve'

const port = parentPort
if (!port) throw new Error('the engine worker must run in a worker thread')
serveEngine(
  {
    post: (m) => port.postMessage(m),
    onMessage: (l) => port.on('message', l),
    exit: (code) => process.exit(code),
  },
  (workerData ?? {}) as EngineConfig,
)
