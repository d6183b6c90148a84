import { decodeFrame, encodeFrame } from '../../../shared/frame'
import type { Method } from '../../../shared/api'
import type { Transport } from '../../../shared/rpc'

/** What the preload script exposes on window.umbra (Electron). Nothing else of Electron is reachable. */
export interface PreloadBridge {
  call(method: string, request: unknown): Promise<unknown>
  subscribe(listener: (name: string, payload: unknown) => void): () => void
}

declare global {
  interface Window {
    umbra?: PreloadBridge
  }
}

/** Electron: the preload bridge carries the message by IPC (structured clone keeps binary as is). */
export function electronTransport(bridge: PreloadBridge): Transport {
  return { call: (method, request) => bridge.call(method, request), subscribe: (l) => bridge.subscribe(l) }
}

/** The token given in the page's address fragment (#token=...), kept for reloads of this tab. */
export function webToken(): string {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token')
  if (fromHash) {
    sessionStorage.setItem('umbra-token', fromHash)
    history.replaceState(null, '', location.pathname + location.search)
    return fromHash
  }
  return sessionStorage.getItem('umbra-token') ?? ''
}

export class BridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** The web bridge: binary frames over fetch, events over server-sent events. */
export function webTransport(token: string): Transport {
  // ONE EventSource for all subscribers: a browser keeps at most 6 connections per host, so one
  // stream per subscriber would soon leave no connection for the API calls themselves.
  const listeners = new Set<(name: string, payload: unknown) => void>()
  let source: EventSource | null = null
  return {
    async call(method: Method, request: unknown) {
      let res: Response
      try {
        res = await fetch(`/api/call/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/octet-stream', 'X-Umbra-Token': token },
          // A Blob body: fetch then reads it off the main thread (a typed-array body is copied on it:
          // ~200 ms of frozen UI for a 50 MP photo, measured in a Chromium trace).
          body: new Blob([encodeFrame(request) as Uint8Array<ArrayBuffer>]),
        })
      } catch {
        throw new BridgeError('OFFLINE', 'The Umbra server cannot be reached. Is `umbra web` still running?')
      }
      if (res.status === 401) throw new BridgeError('UNAUTHORIZED', 'This page has no valid access token. Open the address printed by `umbra web`.')
      if (!res.ok) throw new BridgeError('HTTP_' + res.status, `The Umbra server refused the request (${res.status}): ${await res.text()}`)
      return decodeFrame(new Uint8Array(await res.arrayBuffer()))
    },
    subscribe(listener) {
      listeners.add(listener)
      if (!source) {
        source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`)
        source.onmessage = (e) => {
          let msg: { name: string; payload: unknown }
          try {
            msg = JSON.parse(e.data as string) as { name: string; payload: unknown }
          } catch (err) {
            console.error(err)
            return
          }
          for (const l of [...listeners]) {
            try {
              l(msg.name, msg.payload)
            } catch (err) {
              console.error(err)
            }
          }
        }
      }
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && source) {
          source.close()
          source = null
        }
      }
    },
  }
}
