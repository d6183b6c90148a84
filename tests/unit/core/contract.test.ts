import { describe, expect, it } from 'vitest'
import { api, events, METHODS } from '../../../src/shared/api'
import { decodeFrame, encodeFrame, FrameError } from '../../../src/shared/frame'
import { ContractError, createClient, parseEvent, parseRequest, parseResponse, RemoteError, type Transport } from '../../../src/shared/rpc'
import { createDispatcher } from '../../../src/app/dispatch'
import { UserError } from '../../../src/core/errors'

describe('the API contract', () => {
  it('has a request and a response schema for every method, a schema for every event', () => {
    expect(METHODS.length).toBeGreaterThan(10)
    for (const m of METHODS) {
      expect(api[m].request).toBeDefined()
      expect(api[m].response).toBeDefined()
    }
    expect(Object.keys(events)).toContain('menu.action')
  })

  it('validates requests: accepts good ones, refuses bad ones with a clear message', () => {
    const ok = parseRequest('asset.import', { role: 'photo', source: { type: 'bytes', name: 'a.jpg', bytes: new Uint8Array([1, 2]) } })
    expect(ok.source.type).toBe('bytes')
    expect(() => parseRequest('asset.import', { role: 'photo', source: { type: 'bytes', name: 'a.jpg', bytes: 'AQI=' } })).toThrow(/binary data/)
    expect(() => parseRequest('asset.import', { role: 'banana', source: { type: 'path', path: '/x' } })).toThrow(ContractError)
    expect(() => parseRequest('app.hello', { extra: 1 })).toThrow(/invalid app.hello request/)
    expect(() => parseRequest('nope' as never, {})).toThrow(/unknown method/)
    expect(() => parseRequest('export.render', { composition: { width: 10, height: 10, layers: [{ kind: 'alien' }], assets: [] }, options: { format: 'png' } })).toThrow(ContractError)
  })

  it('fills defaults and validates responses and events', () => {
    const req = parseRequest('export.render', { composition: { width: 1, height: 1, layers: [], assets: [] }, options: { format: 'jpeg' } })
    expect(req.options.quality).toBe(92)
    expect(() => parseResponse('export.render', { bytes: new Uint8Array(1), mime: 'image/png', width: 1.5, height: 1 })).toThrow(/BAD_RESPONSE|invalid export.render response/)
    expect(parseEvent('menu.action', { action: 'undo' })).toEqual({ action: 'undo' })
    expect(() => parseEvent('menu.action', { action: '' })).toThrow(ContractError)
  })

  it('accepts Uint8Arrays from another realm (IPC / contextBridge)', async () => {
    const { runInNewContext } = await import('node:vm')
    const foreign = runInNewContext('new Uint8Array([1,2,3])')
    expect(foreign instanceof Uint8Array).toBe(false)
    expect(() => parseRequest('project.open', { source: { type: 'bytes', name: 'p.umbra', bytes: foreign } })).not.toThrow()
  })
})

describe('the binary frame of the web bridge', () => {
  it('round-trips nested binary parts without base64', () => {
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff)
    const msg = { ok: true, result: { bytes: big, list: [{ b: new Uint8Array([9]) }, 'x'], n: 3 } }
    const frame = encodeFrame(msg)
    expect(frame.length).toBeLessThan(big.length + 200)
    const back = decodeFrame(frame) as typeof msg
    expect(back.result.n).toBe(3)
    expect(Buffer.from(back.result.bytes).equals(Buffer.from(big))).toBe(true)
    expect([...(back.result.list[0] as { b: Uint8Array }).b]).toEqual([9])
  })

  it('refuses truncated and foreign frames', () => {
    const frame = encodeFrame({ a: new Uint8Array(10) })
    expect(() => decodeFrame(frame.subarray(0, frame.length - 3))).toThrow(FrameError)
    expect(() => decodeFrame(new TextEncoder().encode('{"a":1}'))).toThrow(FrameError)
    const bad = encodeFrame({ a: { $bin: 5 } })
    expect(() => decodeFrame(bad)).toThrow(/bad binary reference/)
  })
})

describe('dispatch and client', () => {
  const dispatch = createDispatcher({
    'settings.get': async () => ({ recentFiles: [], lastFolders: {}, panels: {}, preferences: { exportFormat: 'png', jpegQuality: 92, openSampleOnStart: true, previewMaxSide: 2048 } }),
    'recent.clear': async () => {
      throw new UserError('NOPE', 'cannot clear')
    },
    'asset.release': async () => ({ released: -0.5 }) as never,
    'app.close': async () => {
      throw new Error('boom')
    },
  })

  it('wraps results and errors in envelopes, never throws', async () => {
    expect(await dispatch('settings.get', {})).toMatchObject({ ok: true })
    expect(await dispatch('recent.clear', {})).toEqual({ ok: false, error: { code: 'NOPE', message: 'cannot clear' } })
    expect(await dispatch('settings.get', { x: 1 })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } })
    expect(await dispatch('no.such', {})).toMatchObject({ ok: false, error: { code: 'UNKNOWN_METHOD' } })
    expect(await dispatch('project.sample', {})).toMatchObject({ ok: false, error: { code: 'NOT_AVAILABLE' } })
    expect(await dispatch('asset.release', { ids: [] })).toMatchObject({ ok: false, error: { code: 'BAD_RESPONSE' } })
    expect(await dispatch('app.close', {})).toMatchObject({ ok: false, error: { code: 'INTERNAL' } })
  })

  it('the client validates on its side too, over a framed transport', async () => {
    const transport: Transport = {
      call: async (method, request) => decodeFrame(encodeFrame(await dispatch(method, decodeFrame(encodeFrame(request))))),
      subscribe: () => () => {},
    }
    const client = createClient(transport)
    expect((await client.call('settings.get', {})).preferences.jpegQuality).toBe(92)
    await expect(client.call('recent.clear', {})).rejects.toEqual(new RemoteError('NOPE', 'cannot clear'))
    await expect(client.call('settings.update', { preferences: { jpegQuality: 500 } })).rejects.toBeInstanceOf(ContractError)
    const lying = createClient({ call: async () => ({ ok: true, result: { nope: 1 } }), subscribe: () => () => {} })
    await expect(lying.call('asset.release', { ids: [] })).rejects.toThrow(/invalid asset.release response/)
  })
})
