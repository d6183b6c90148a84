import { createClient, type Client } from '../../../shared/rpc'
import { electronTransport, webToken, webTransport } from './transports'

let client: Client | null = null

/** The validating API client over whichever transport this page runs on. */
export function getClient(): Client {
  if (!client) client = createClient(window.umbra ? electronTransport(window.umbra) : webTransport(webToken()))
  return client
}

export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as Error).message)
  return String(err)
}
