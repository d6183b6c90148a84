/**
 * Entry of the engine utilityProcess (Electron). Same protocol and code as the worker thread
 * (src/jobs/engine/serve.ts); the configuration comes as a JSON argument.
 */
import type { EngineConfig } from '../shared/engine-protocol'
import { serveEngine } from '../jobs/engine/serve'

const port = process.parentPort
let config: EngineConfig = {}
try {
  config = JSON.parse(process.argv[process.argv.length - 1] ?? '{}') as EngineConfig
} catch {
  config = {}
}
serveEngine(
  {
    post: (m) => port.postMessage(m),
    onMessage: (l) => void port.on('message', (e) => l(e.data)),
    exit: (code) => process.exit(code),
  },
  config,
)
