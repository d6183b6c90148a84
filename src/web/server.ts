import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { extname, join, normalize, sep } from 'node:path'
import type { AddressInfo } from 'node:net'
import { decodeFrame, encodeFrame, FrameError } from '../shared/frame'
import { isEventName, type EventName, type EventPayload } from '../shared/api'
import { parseEvent } from '../shared/rpc'
import type { Dispatcher } from '../app/dispatch'
import { RENDERER_CSP } from '../shared/csp'

/**
 * The web bridge: the same handlers as Electron's IPC, served over HTTP on 127.0.0.1.
 *
 * - `POST /api/call/<method>`: body and reply are binary frames (src/shared/frame.ts); the reply
 *   is the contract's envelope. Requires the header `X-Umbra-Token: <token>`.
 * - `GET /api/events?token=<token>`: server-sent events (EventSource cannot send headers).
 * - everything else: the built renderer (dist-web), no token needed (it holds no data).
 *
 * Every request must carry a Host header naming this server (127.0.0.1:PORT or localhost:PORT),
 * which defeats DNS rebinding; a cross-origin Origin is refused. The token is random per start and
 * reaches the page in the URL fragment (never sent to the server, never logged).
 */
export interface WebBridgeOptions {
  dispatch: Dispatcher
  /** Folder with the built renderer (index.html). */
  staticDir: string
  /** 0 = a random free port. */
  port?: number
  token?: string
  /** Largest request body (an uploaded image), bytes. */
  maxBody?: number
}

export interface WebBridge {
  port: number
  token: string
  /** The address to open in a browser (token in the fragment). */
  url: string
  emit<E extends EventName>(name: E, payload: EventPayload<E>): void
  close(): Promise<void>
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
}

/** The renderer's Content-Security-Policy (src/shared/csp.ts; Electron's app:// protocol sends the same). */
export const CSP = RENDERER_CSP

const SECURITY_HEADERS = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** True when the Host header names this server (and nothing else). */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`
}

export async function startWebBridge(opts: WebBridgeOptions): Promise<WebBridge> {
  const token = opts.token ?? randomBytes(24).toString('base64url')
  const maxBody = opts.maxBody ?? 512 * 1024 * 1024
  const clients = new Set<ServerResponse>()
  let port = 0

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error('umbra web: request failed:', err)
      if (!res.headersSent) send(res, 500, 'internal error')
      else res.destroy()
    })
  })

  function send(res: ServerResponse, status: number, text: string) {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...SECURITY_HEADERS })
    res.end(text)
  }

  async function readBody(req: IncomingMessage): Promise<Buffer | null> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > maxBody) return null
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks)
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (!hostAllowed(req.headers.host, port)) return send(res, 403, 'forbidden: unexpected Host header')
    const origin = req.headers.origin
    if (origin && origin !== `http://127.0.0.1:${port}` && origin !== `http://localhost:${port}`) return send(res, 403, 'forbidden: cross-origin request')
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)

    if (url.pathname.startsWith('/api/')) {
      if (url.pathname === '/api/events' && req.method === 'GET') {
        if (!tokensEqual(url.searchParams.get('token') ?? '', token)) return send(res, 401, 'unauthorized')
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', ...SECURITY_HEADERS })
        res.write(': connected\n\n')
        clients.add(res)
        req.on('close', () => clients.delete(res))
        return
      }
      const header = req.headers['x-umbra-token']
      if (typeof header !== 'string' || !tokensEqual(header, token)) return send(res, 401, 'unauthorized: missing or wrong token')
      const m = /^\/api\/call\/([a-zA-Z.]+)$/.exec(url.pathname)
      if (!m || req.method !== 'POST') return send(res, 404, 'no such API route')
      const body = await readBody(req)
      if (body === null) {
        res.setHeader('Connection', 'close')
        send(res, 413, 'request too large')
        res.on('finish', () => req.destroy())
        return
      }
      let request: unknown
      try {
        request = decodeFrame(body)
      } catch (err) {
        if (err instanceof FrameError) return send(res, 400, `bad request: ${err.message}`)
        throw err
      }
      const envelope = await opts.dispatch(m[1], request)
      const frame = encodeFrame(envelope)
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': frame.length, 'Cache-Control': 'no-store', ...SECURITY_HEADERS })
      res.end(frame)
      return
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed')
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1))
    const root = normalize(opts.staticDir + sep)
    const file = normalize(join(root, rel))
    if (!file.startsWith(root)) return send(res, 403, 'forbidden')
    let data: Buffer
    try {
      data = await fs.readFile(file)
    } catch {
      return send(res, 404, 'not found')
    }
    res.writeHead(200, {
      'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': data.length,
      'Cache-Control': rel === 'index.html' ? 'no-store' : 'max-age=3600',
      ...SECURITY_HEADERS,
    })
    res.end(req.method === 'HEAD' ? undefined : data)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  port = (server.address() as AddressInfo).port

  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/#token=${token}`,
    emit(name, payload) {
      if (!isEventName(name)) return
      const data = JSON.stringify({ name, payload: parseEvent(name, payload) })
      for (const c of clients) c.write(`data: ${data}\n\n`)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.end()
        server.close(() => resolve())
        server.closeAllConnections?.()
      }),
  }
}
