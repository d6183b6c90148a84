import { utilityProcess } from 'electron'
import { fileURLToPath } from 'node:url'
import { EngineHost, type EngineChannel } from '../jobs/engine/host'
import type { EngineConfig } from '../shared/engine-protocol'

/**
 * The shadow engine in Electron: a utilityProcess (off the UI and off the main process's event
 * loop) running src/main/engine-worker.ts, which serves the same protocol as the worker thread of
 * the web bridge and the CLI (src/jobs/engine). EngineHost adds the queue, cancel and the restart
 * after a crash; this file only adapts utilityProcess to its channel interface.
 */
const ENGINE_ENTRY = fileURLToPath(new URL('./engine-worker.js', import.meta.url))

export function utilityChannel(config: EngineConfig): EngineChannel {
  const child = utilityProcess.fork(ENGINE_ENTRY, [JSON.stringify(config)], { serviceName: 'Umbra shadow engine', stdio: 'inherit' })
  let exited = false
  const exitListeners: ((reason: string) => void)[] = []
  child.on('exit', (code) => {
    if (exited) return
    exited = true
    for (const l of exitListeners) l(`exit code ${code}`)
  })
  return {
    post: (m) => child.postMessage(m),
    onMessage: (l) => void child.on('message', l),
    onExit: (l) => void exitListeners.push(l),
    kill: () => void child.kill(),
  }
}

export function createUtilityEngineHost(config: EngineConfig = {}): EngineHost {
  return new EngineHost(() => utilityChannel(config))
}
