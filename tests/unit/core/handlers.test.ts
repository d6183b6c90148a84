import { describe, expect, it } from 'vitest'
import { createDispatcher } from '../../../src/app/dispatch'
import { createHandlers } from '../../../src/app/handlers'
import { createNodeContext } from '../../../src/app/node-host'
import { MemoryBackend, SettingsService } from '../../../src/core/settings'
import { decodeFrame, encodeFrame } from '../../../src/shared/frame'
import { createClient } from '../../../src/shared/rpc'
import sharp from 'sharp'

function client() {
  const ctx = createNodeContext({ settings: new SettingsService(new MemoryBackend()) })
  const dispatch = createDispatcher(createHandlers(ctx))
  return createClient({ call: async (m, r) => decodeFrame(encodeFrame(await dispatch(m, decodeFrame(encodeFrame(r))))), subscribe: () => () => {} })
}

describe('handlers over the contract', () => {
  it('opens the bundled sample, exports it at the original size, saves and reopens it', async () => {
    const api = client()
    const hello = await api.call('app.hello', {})
    expect(hello.sampleAvailable).toBe(true)
    const sample = await api.call('project.sample', {})
    expect(sample.composition.layers.map((l) => l.kind)).toEqual(['photo', 'object'])
    expect([sample.composition.width, sample.composition.height]).toEqual([2560, 1600])
    const photoPreview = sample.previews.find((p) => p.assetId === sample.composition.layers[0].assetId)!
    expect(Math.max(photoPreview.width, photoPreview.height)).toBe(2048)

    const exported = await api.call('export.render', { composition: sample.composition, options: { format: 'png' } })
    const meta = await sharp(exported.bytes).metadata()
    expect([meta.width, meta.height]).toEqual([2560, 1600])

    const { bytes } = await api.call('project.encode', { composition: sample.composition })
    const fresh = client()
    const reopened = await fresh.call('project.open', { source: { type: 'bytes', name: 's.umbra', bytes } })
    expect(reopened.composition).toEqual(sample.composition)
    const again = await fresh.call('export.render', { composition: reopened.composition, options: { format: 'png' } })
    expect(Buffer.from(again.bytes).equals(Buffer.from(exported.bytes))).toBe(true)
    expect((await fresh.call('settings.get', {})).preferences.openSampleOnStart).toBe(true)
    expect((await api.call('settings.get', {})).preferences.openSampleOnStart).toBe(false)
  })

  it('reports bad input clearly and keeps nothing', async () => {
    const api = client()
    await expect(api.call('asset.import', { role: 'photo', source: { type: 'path', path: '/nonexistent/x.jpg' } })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(api.call('asset.import', { role: 'photo', source: { type: 'bytes', name: 'x.jpg', bytes: new Uint8Array([1, 2, 3]) } })).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' })
    await expect(api.call('project.open', { source: { type: 'bytes', name: 'x.umbra', bytes: new Uint8Array([1, 2, 3]) } })).rejects.toMatchObject({ code: 'NOT_A_PROJECT' })
    await expect(
      api.call('export.render', {
        composition: { width: 10, height: 10, assets: [{ id: 'gone', name: 'g.png', width: 1, height: 1, mime: 'image/png', hasAlpha: true, sha256: '0'.repeat(64) }], layers: [{ kind: 'photo', id: 'p', assetId: 'gone' }] },
        options: { format: 'png' },
      }),
    ).rejects.toMatchObject({ code: 'MISSING_IMAGE' })
  })
})
