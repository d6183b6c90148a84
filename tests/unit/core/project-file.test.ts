import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { AssetStore } from '../../../src/core/assets'
import { decodeProject, encodeProject, PROJECT_MAGIC, restoreDocument } from '../../../src/core/project-file'
import { PROJECT_FORMAT_VERSION, ProjectDocument, type Composition } from '../../../src/shared/project'
import { solid } from '../../helpers/images'

async function sampleComposition() {
  const store = new AssetStore()
  const photo = await store.add(await solid(64, 48, [0, 0, 255, 255], 'jpeg'), 'photo.jpg', 512)
  const obj = await store.add(await solid(10, 10, [255, 0, 0, 200]), 'cut.png', 512)
  const c: Composition = {
    width: 64,
    height: 48,
    assets: [photo.meta, obj.meta],
    layers: [
      { kind: 'photo', id: 'p', name: 'Photo', assetId: photo.meta.id, visible: true, locked: true, opacity: 1 },
      { kind: 'object', id: 'o1', name: 'Cup', assetId: obj.meta.id, visible: true, locked: false, opacity: 0.5, transform: { x: 20, y: 10, scaleX: 1.5, scaleY: 2, angle: 30, flipX: true, flipY: false } },
      { kind: 'shadow', id: 's1', name: 'Cup shadow', objectId: 'o1', assetId: obj.meta.id, visible: false, locked: false, opacity: 0.7, blend: 'multiply', transform: { x: 22, y: 14, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false } },
    ],
  }
  return { store, c }
}

function tamper(file: Uint8Array, edit: (manifest: { document: Record<string, unknown>; entries: unknown[] }) => void): Uint8Array {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const len = view.getUint32(12, true)
  const manifest = JSON.parse(new TextDecoder().decode(file.subarray(16, 16 + len)))
  edit(manifest)
  const m = new TextEncoder().encode(JSON.stringify(manifest))
  const out = new Uint8Array(16 + m.length + (file.length - 16 - len))
  out.set(file.subarray(0, 16))
  new DataView(out.buffer).setUint32(12, m.length, true)
  out.set(m, 16)
  out.set(file.subarray(16 + len), 16 + m.length)
  return out
}

describe('.umbra project files', () => {
  it('round-trips composition and image bytes exactly', async () => {
    const { store, c } = await sampleComposition()
    const file = encodeProject(c, (id) => store.get(id).bytes, '9.9.9')
    expect([...file.subarray(0, 8)]).toEqual([...PROJECT_MAGIC])
    const back = decodeProject(file, 'x.umbra')
    expect(back.document.version).toBe(PROJECT_FORMAT_VERSION)
    expect(back.document.app).toBe('9.9.9')
    expect(back.document.composition).toEqual(c)
    for (const a of c.assets) expect(Buffer.from(back.images.get(a.id)!).equals(Buffer.from(store.get(a.id).bytes))).toBe(true)
    expect(back.notes).toEqual([])
  })

  it('only embeds images that layers use', async () => {
    const { store, c } = await sampleComposition()
    const extra = await store.add(await solid(5, 5, [1, 2, 3, 255]), 'unused.png', 64)
    const file = encodeProject({ ...c, assets: [...c.assets, extra.meta] }, (id) => store.get(id).bytes, '1')
    expect(decodeProject(file).document.composition.assets.map((a) => a.id)).not.toContain(extra.meta.id)
  })

  it('refuses a project from a newer version with a clear message', async () => {
    const { store, c } = await sampleComposition()
    const file = tamper(encodeProject(c, (id) => store.get(id).bytes, '1'), (m) => {
      m.document.version = PROJECT_FORMAT_VERSION + 1
      m.document.app = '7.0.0'
    })
    const err = (() => {
      try {
        decodeProject(file, 'future.umbra')
      } catch (e) {
        return e as { code: string; message: string }
      }
    })()!
    expect(err.code).toBe('NEWER_VERSION')
    expect(err.message).toMatch(/newer version of Umbra \(Umbra 7\.0\.0\).*Update Umbra/)
  })

  it('refuses a project whose images are missing or damaged', async () => {
    const { store, c } = await sampleComposition()
    const good = encodeProject(c, (id) => store.get(id).bytes, '1')
    const noEntries = tamper(good, (m) => {
      m.entries = m.entries.slice(0, 1)
    })
    expect(() => decodeProject(noEntries, 'p.umbra')).toThrow(/cut\.png' is missing or damaged/)
    const truncated = good.subarray(0, good.length - 10)
    expect(() => decodeProject(truncated, 'p.umbra')).toThrow(expect.objectContaining({ code: 'MISSING_IMAGE' }))
    const flipped = new Uint8Array(good)
    flipped[flipped.length - 5] ^= 0xff
    expect(() => decodeProject(flipped, 'p.umbra')).toThrow(expect.objectContaining({ code: 'MISSING_IMAGE' }))
  })

  it('refuses files that are not projects, empty or cut short', async () => {
    const { store, c } = await sampleComposition()
    const good = encodeProject(c, (id) => store.get(id).bytes, '1')
    expect(() => decodeProject(new Uint8Array(0), 'e.umbra')).toThrow(expect.objectContaining({ code: 'EMPTY_FILE' }))
    const png = await solid(4, 4, [0, 0, 0, 255])
    expect(() => decodeProject(png, 'photo.png')).toThrow(expect.objectContaining({ code: 'NOT_A_PROJECT' }))
    expect(() => decodeProject(good.subarray(0, 40), 'cut.umbra')).toThrow(expect.objectContaining({ code: 'CORRUPT_PROJECT' }))
    const badJson = tamper(good, (m) => {
      ;(m.document.composition as { layers: unknown }).layers = 'nope'
    })
    expect(() => decodeProject(badJson, 'b.umbra')).toThrow(expect.objectContaining({ code: 'CORRUPT_PROJECT' }))
  })

  it('restore fills defaults for fields an older writer left out', () => {
    const { document, notes } = restoreDocument({
      format: 'umbra-project',
      version: PROJECT_FORMAT_VERSION,
      composition: {
        width: 10,
        height: 10,
        assets: [{ id: 'a', name: 'a.png', width: 5, height: 5, mime: 'image/png', hasAlpha: true, sha256: '0'.repeat(64) }],
        layers: [{ kind: 'object', id: 'o', assetId: 'a', transform: { x: 1, y: 2, scaleX: 1, scaleY: 1 } }],
      },
    })
    const layer = document.composition.layers[0]
    expect(layer).toMatchObject({ name: 'Layer', visible: true, locked: false, opacity: 1 })
    expect(layer.kind === 'object' && layer.transform).toEqual({ x: 1, y: 2, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false })
    expect(document.app).toBe('unknown')
    expect(notes).toEqual([])
  })

  it('migrates old versions step by step, in order', () => {
    const seen: number[] = []
    const migrations = {
      0: (d: Record<string, unknown>) => {
        seen.push(0)
        // version 0 kept the photo size at the top level
        const { size, ...rest } = d as { size: { w: number; h: number } }
        return { ...rest, composition: { width: size.w, height: size.h, layers: [], assets: [] } }
      },
      1: (d: Record<string, unknown>) => {
        seen.push(1)
        return { ...d, app: 'migrated' }
      },
    }
    // a pretend "format 2" schema: the real one with the version literal relaxed
    const parse = (d: unknown) => ProjectDocument.extend({ version: z.literal(2) }).parse(d) as unknown as ProjectDocument
    const { document, notes } = restoreDocument({ format: 'umbra-project', version: 0, size: { w: 30, h: 20 } }, { current: 2, migrations, parse })
    expect(seen).toEqual([0, 1])
    expect(document.composition).toMatchObject({ width: 30, height: 20 })
    expect(document.app).toBe('migrated')
    expect(document.version).toBe(2)
    expect(notes).toEqual(['upgraded the project from format 0 to 2'])
  })

  it('reports a missing migration step instead of guessing', () => {
    expect(() => restoreDocument({ format: 'umbra-project', version: 0 }, { current: 1, migrations: {} })).toThrow(/no upgrade from project format 0/)
  })
})
