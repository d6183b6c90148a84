import { describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { renderComposition } from '../../../src/core/compose'
import { decodeProject, encodeProject, restoreDocument } from '../../../src/core/project-file'
import { sha256Hex } from '../../../src/core/assets'
import { PROJECT_FORMAT_VERSION, type AssetMeta, type Composition, type ShadowLayer } from '../../../src/shared/project'
import { darkeningToLayer, describeLightOrigin, NEUTRAL_EDITS, shadowIsStale, steeredTransform, toDarkening } from '../../../src/shared/shadow'
import { lightOriginOf } from '../../../src/engine/pipeline'

/** Shadow layers in the document: edits in export, project round trip and migration, steering math. */
async function asset(bytes: Buffer, name: string, w: number, h: number, alpha: boolean): Promise<AssetMeta> {
  const sha = sha256Hex(bytes)
  return { id: `img-${sha.slice(0, 24)}`, name, width: w, height: h, mime: 'image/png', hasAlpha: alpha, sha256: sha }
}

async function fixture() {
  const photo = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#c8c8c8' } }).png().toBuffer()
  const object = await sharp({ create: { width: 10, height: 20, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 1 } } }).png().toBuffer()
  // A 40x20 multiply layer: black at 50% (a = 128, colour 0).
  const shadow = await sharp({ create: { width: 40, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 128 / 255 } } }).png().toBuffer()
  const bytes = new Map<string, Uint8Array>()
  const metas = [await asset(photo, 'photo.png', 120, 80, false), await asset(object, 'o.png', 10, 20, true), await asset(shadow, 's.png', 40, 20, true)]
  metas.forEach((m, i) => bytes.set(m.id, [photo, object, shadow][i]))
  const t = { x: 60, y: 60, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false }
  const layer: ShadowLayer = {
    kind: 'shadow', id: 'o-shadow', name: 'o shadow', visible: true, locked: false, opacity: 1, objectId: 'o', assetId: metas[2].id, blend: 'multiply',
    transform: t,
    source: { objectTransform: { ...t, y: 40 }, generatedTransform: t, contact: { x: 60, y: 50 }, castAngle: 90, castLength: 20, light: null },
    edits: {},
  }
  const c: Composition = {
    width: 120, height: 80, assets: metas,
    layers: [
      { kind: 'photo', id: 'photo', name: 'p', assetId: metas[0].id, visible: true, locked: false, opacity: 1 },
      layer,
      { kind: 'object', id: 'o', name: 'o', assetId: metas[1].id, visible: true, locked: false, opacity: 1, transform: { ...t, y: 40 } },
    ],
  }
  return { c, bytes, layer }
}

const px = (img: Buffer, x: number, y: number) => img[(y * 120 + x) * 4]

describe('shadow layers', () => {
  it('export draws the shadow as multiply, and applies density, tint and skew edits', async () => {
    const { c, bytes, layer } = await fixture()
    const of = (id: string) => bytes.get(id)!
    const plain = (await renderComposition(c, of, { format: 'raw' })).data
    expect(px(plain, 60, 60)).toBeCloseTo(200 * (1 - 128 / 255), -0.5) // 200 * (1 - a)
    expect(px(plain, 5, 5)).toBe(200)
    const withEdits = (edits: ShadowLayer['edits']) => ({ ...c, layers: c.layers.map((l) => (l.id === layer.id ? { ...layer, edits } : l)) })
    const none = (await renderComposition(withEdits({ density: 0 }), of, { format: 'raw' })).data
    expect(px(none, 60, 60)).toBe(200)
    const red = (await renderComposition(withEdits({ tint: '#ff0000' }), of, { format: 'raw' })).data
    expect(red[(60 * 120 + 60) * 4]).toBe(200) // the red channel is not darkened any more
    expect(red[(60 * 120 + 60) * 4 + 1]).toBeLessThan(120)
    const skewed = (await renderComposition(withEdits({ skewX: 40 }), of, { format: 'raw' })).data
    expect(Buffer.compare(skewed, plain)).not.toBe(0)
  })

  it('project files keep shadow layers with their source and edits', async () => {
    const { c, bytes, layer } = await fixture()
    const withOrigin = { ...layer, source: { ...layer.source!, lightOrigin: { kind: 'spread' as const, confidence: 0.4, directions: [{ angle: 90, weight: 0.4 }] } } }
    const edited = { ...c, layers: c.layers.map((l) => (l.id === layer.id ? { ...withOrigin, edits: { density: 1.5, softness: 3, tint: '#102030', skewX: 5 } } : l)) }
    const file = encodeProject(edited, (id) => bytes.get(id)!, 'test')
    const back = decodeProject(file)
    expect(back.document.version).toBe(PROJECT_FORMAT_VERSION)
    expect(back.document.composition.layers[1]).toEqual(edited.layers[1])
  })

  it('format 1 shadow layers are upgraded: neutral edits, no source', () => {
    const v1 = {
      format: 'umbra-project', version: 1, app: 'old', savedAt: '',
      composition: {
        width: 10, height: 10,
        assets: [{ id: 'a', name: 'a', width: 10, height: 10, mime: 'image/png', hasAlpha: true, sha256: '0'.repeat(64) }],
        layers: [
          { kind: 'object', id: 'o', name: 'o', assetId: 'a', transform: { x: 1, y: 1, scaleX: 1, scaleY: 1 } },
          { kind: 'shadow', id: 's', name: 's', objectId: 'o', assetId: 'a', transform: { x: 1, y: 1, scaleX: 1, scaleY: 1 }, source: 'junk' },
        ],
      },
    }
    const { document, notes } = restoreDocument(v1)
    const s = document.composition.layers[1] as ShadowLayer
    expect(s.edits).toEqual({})
    expect(s.source).toBeUndefined()
    expect(notes.join(' ')).toMatch(/from format 1 to 2/)
  })

  it('steering turns the shadow about the contact point; moving the object makes it stale', async () => {
    const { layer, c } = await fixture()
    const src = layer.source!
    const t = steeredTransform(src, { angle: 180, length: 20 }) // from down (90) to left (180): +90 clockwise
    expect(t.x).toBeCloseTo(60 - 10, 6) // centre (60, 60) was 10 below the contact (60, 50): now 10 to its left
    expect(t.y).toBeCloseTo(50, 6)
    expect(t.angle).toBeCloseTo(90, 6)
    const longer = steeredTransform(src, { angle: 90, length: 40 })
    expect(longer.scaleX).toBeCloseTo(2, 6)
    expect(longer.y).toBeCloseTo(70, 6)
    const object = c.layers[2] as { transform: ShadowLayer['transform'] }
    expect(shadowIsStale(layer, object)).toBe(false)
    expect(shadowIsStale(layer, { transform: { ...object.transform, x: object.transform.x + 5 } })).toBe(true)
  })

  it('says where the direction came from, and that steering overrides it', async () => {
    const { layer } = await fixture()
    const src = layer.source!
    expect(describeLightOrigin(src)).toBeNull() // older files, and models that choose the direction themselves
    const hedged = lightOriginOf({ angle: Math.PI, source: 'model', confidence: 0.35, spread: [{ angle: Math.PI, weight: 0.35 }, { angle: 0.1, weight: 0.2 }, { angle: -Math.PI / 2, weight: 0.3 }, { angle: 2, weight: 0.15 }] })!
    expect(hedged.kind).toBe('spread')
    expect(hedged.directions![2].angle).toBeCloseTo(-90, 6)
    const text = describeLightOrigin({ ...src, lightOrigin: hedged })!
    expect(text).toMatch(/not known/)
    expect(text).toContain('(-180° 35%, -90° 30%, 6° 20%)') // the three most likely, most likely first; degrees as the Direction slider shows them
    expect(describeLightOrigin({ ...src, lightOrigin: lightOriginOf({ angle: 1, source: 'model', confidence: 0.8 })! })).toContain('80% sure')
    expect(describeLightOrigin({ ...src, lightOrigin: lightOriginOf({ angle: 1, source: 'scene' })! })).toMatch(/shadows already in the photo/)
    expect(describeLightOrigin({ ...src, lightOrigin: lightOriginOf({ angle: 1, source: 'default' })! })).toMatch(/upper left/)
    const sun = lightOriginOf({ angle: 0.9, source: 'sun', sun: { x: 922.4, y: 436.6 } })!
    expect(sun).toEqual({ kind: 'sun', sun: { x: 922, y: 437 } })
    expect(describeLightOrigin({ ...src, lightOrigin: sun })).toBe('Direction: away from the sun, which is in the photo (the bright glow at 922, 437): the shadow comes towards the viewer.')
    expect(describeLightOrigin({ ...src, lightOrigin: { kind: 'default' }, light: { angle: 10, length: 5 } })).toMatch(/steered by you/)
    const lit = lightOriginOf({ angle: Math.PI, source: 'model', confidence: 0.6, spread: [{ angle: Math.PI, weight: 0.8 }, { angle: 0, weight: 0.2 }], litFrom: 'right' })!
    expect(lit.litFrom).toBe('right')
    expect(describeLightOrigin({ ...src, lightOrigin: lit })).toMatch(/lit from the right, so its shadow more likely falls left\.$/)
    expect(lightOriginOf({ angle: 1, source: 'user' })!.litFrom).toBeUndefined()
    const weighed = lightOriginOf({ angle: Math.PI, source: 'model', confidence: 0.6, spread: [{ angle: Math.PI, weight: 1 }], sceneAngle: (-170 * Math.PI) / 180 })!
    expect(weighed.sceneAngle).toBeCloseTo(-170, 6)
    expect(describeLightOrigin({ ...src, lightOrigin: weighed })).toMatch(/shadows already in the photo point about -170°, which the estimate takes into account\.$/)
    expect(lightOriginOf({ angle: 1, source: 'user' })!.sceneAngle).toBeUndefined()
    expect(lightOriginOf(null)).toBeNull()
  })

  // Layers the pipeline writes have a = max_k d_k (one colour channel at 0), so the round trip is exact.
  it('the edit math is the identity for neutral edits', () => {
    const rgba = new Uint8Array([0, 20, 40, 200, 255, 255, 255, 0, 0, 0, 0, 255])
    const d = toDarkening(rgba, 3)
    const out = new Uint8Array(12)
    darkeningToLayer(d, 3, NEUTRAL_EDITS, null, out)
    for (let i = 0; i < 12; i++) expect(Math.abs(out[i] - rgba[i])).toBeLessThanOrEqual(2)
  })
})
