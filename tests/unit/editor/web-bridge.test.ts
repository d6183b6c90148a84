import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDispatcher } from '../../../src/app/dispatch'
import { createHandlers } from '../../../src/app/handlers'
import { createNodeContext } from '../../../src/app/node-host'
import { MemoryBackend, SettingsService } from '../../../src/core/settings'
import { decodeFrame, encodeFrame } from '../../../src/shared/frame'
import { hostAllowed, startWebBridge, tokensEqual, type WebBridge } from '../../../src/web/server'

let bridge: WebBridge
const staticDir = mkdtempSync(join(tmpdir(), 'umbra-static-'))

beforeAll(async () => {
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>t</title>')
  const ctx = createNodeContext({ settings: new SettingsService(new MemoryBackend()) })
  bridge = await startWebBridge({ dispatch: createDispatcher(createHandlers(ctx)), staticDir, maxBody: 1024 * 1024 })
})
afterAll(async () => {
  await bridge?.close()
})

function call(opts: { path: string; method?: string; headers?: Record<string, string>; body?: Uint8Array }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ agent: false, host: '127.0.0.1', port: bridge.port, path: opts.path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${bridge.port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE' ? resolve({ status: 413, headers: {}, body: Buffer.alloc(0) }) : reject(err)))
    req.end(opts.body)
  })
}

const hello = () => encodeFrame({})

describe('web bridge', () => {
  it('listens on 127.0.0.1 on a random port, with a random token in the URL fragment', () => {
    expect(bridge.port).toBeGreaterThan(0)
    expect(bridge.url).toBe(`http://127.0.0.1:${bridge.port}/#token=${bridge.token}`)
    expect(bridge.token.length).toBeGreaterThanOrEqual(32)
  })

  it('answers API calls with the token, as binary frames', async () => {
    const r = await call({ path: '/api/call/app.hello', method: 'POST', headers: { 'x-umbra-token': bridge.token }, body: hello() })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/octet-stream')
    const env = decodeFrame(r.body) as { ok: boolean; result: { transport: string } }
    expect(env.ok).toBe(true)
    expect(env.result.transport).toBe('web')
  })

  it('refuses API calls without the right token', async () => {
    expect((await call({ path: '/api/call/app.hello', method: 'POST', body: hello() })).status).toBe(401)
    expect((await call({ path: '/api/call/app.hello', method: 'POST', headers: { 'x-umbra-token': 'x' + bridge.token.slice(1) }, body: hello() })).status).toBe(401)
    expect((await call({ path: `/api/events?token=nope` })).status).toBe(401)
  })

  it('refuses a foreign Host header (DNS rebinding) and cross-origin requests', async () => {
    expect((await call({ path: '/', headers: { host: `evil.example:${bridge.port}` } })).status).toBe(403)
    expect((await call({ path: '/api/call/app.hello', method: 'POST', headers: { host: 'evil.example', 'x-umbra-token': bridge.token }, body: hello() })).status).toBe(403)
    expect((await call({ path: '/api/call/app.hello', method: 'POST', headers: { origin: 'http://evil.example', 'x-umbra-token': bridge.token }, body: hello() })).status).toBe(403)
    expect(hostAllowed(`localhost:${bridge.port}`, bridge.port)).toBe(true)
    expect(hostAllowed(`127.0.0.1:${bridge.port + 1}`, bridge.port)).toBe(false)
    expect(hostAllowed(undefined, bridge.port)).toBe(false)
    expect(tokensEqual('abc', 'abc')).toBe(true)
    expect(tokensEqual('abc', 'abcd')).toBe(false)
  })

  it('validates every request: bad frames, unknown methods, invalid payloads, oversized bodies', async () => {
    const h = { 'x-umbra-token': bridge.token }
    expect((await call({ path: '/api/call/app.hello', method: 'POST', headers: h, body: Buffer.from('{}') })).status).toBe(400)
    const unknown = decodeFrame((await call({ path: '/api/call/no.such', method: 'POST', headers: h, body: hello() })).body)
    expect(unknown).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } })
    const invalid = decodeFrame((await call({ path: '/api/call/asset.import', method: 'POST', headers: h, body: encodeFrame({ role: 'photo', source: { type: 'bytes', name: 'x', bytes: 'AAAA' } }) })).body)
    expect(invalid).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } })
    const big = encodeFrame({ role: 'photo', source: { type: 'bytes', name: 'x', bytes: new Uint8Array(2 * 1024 * 1024) } })
    expect((await call({ path: '/api/call/asset.import', method: 'POST', headers: h, body: big })).status).toBe(413)
  })

  it('serves the renderer with a strict CSP and never files outside its folder', async () => {
    const r = await call({ path: '/' })
    expect(r.status).toBe(200)
    expect(String(r.headers['content-security-policy'])).toContain("script-src 'self'")
    expect(String(r.headers['content-security-policy']).match(/script-src [^;]*/)?.[0]).toBe("script-src 'self'")
    expect(r.headers['x-content-type-options']).toBe('nosniff')
    expect((await call({ path: '/../../etc/passwd' })).status).toBeGreaterThanOrEqual(403)
    expect((await call({ path: '/%2e%2e/%2e%2e/etc/passwd' })).status).toBeGreaterThanOrEqual(403)
  })
})
