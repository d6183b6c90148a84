import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { isEventName, isMethod } from '../shared/api'
import { parseEvent, parseRequest } from '../shared/rpc'

/**
 * The contract over IPC, exposed to the page as `window.umbra` with contextBridge. The page never
 * sees ipcRenderer: only `call(method, request)` for the contract's methods and `subscribe` for its
 * events. Requests are validated here before they leave and again in the main process; events are
 * validated before they reach the page. (Bundled as one CommonJS file: sandboxed preloads cannot
 * load modules.)
 */
const bridge = {
  async call(method: string, request: unknown): Promise<unknown> {
    if (!isMethod(method)) return { ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method '${method}'` } }
    try {
      parseRequest(method, request)
    } catch (err) {
      return { ok: false, error: { code: 'BAD_REQUEST', message: (err as Error).message } }
    }
    return ipcRenderer.invoke('umbra:call', method, request)
  },
  subscribe(listener: (name: string, payload: unknown) => void): () => void {
    const handler = (_e: IpcRendererEvent, name: unknown, payload: unknown) => {
      if (!isEventName(name)) return
      try {
        listener(name, parseEvent(name, payload))
      } catch (err) {
        console.error(err)
      }
    }
    ipcRenderer.on('umbra:event', handler)
    return () => {
      ipcRenderer.removeListener('umbra:event', handler)
    }
  },
}

contextBridge.exposeInMainWorld('umbra', bridge)
