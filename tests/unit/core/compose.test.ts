import { describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { AssetStore } from '../../../src/core/assets'
import { renderComposition } from '../../../src/core/compose'
import type { Composition, Layer } from '../../../src/shared/project'
import { pixel, rawRgba, solid } from '../../helpers/images'

/** A 20x10 cut-out: left half red, right half green, fully opaque, in a transparent 2 px border. */
async function cutout(): Promise<Buffer> {
  const w = 24
  const h = 14
  const data = Buffer.alloc(w * h * 4)
  for (let y = 2; y < 12; y++)
    for (let x = 2; x < 22; x++) {
      const i = (y * w + x) * 4
      data.set(x < 12 ? [255, 0, 0, 255] : [0, 255, 0, 255], i)
    }
  return sharp(data, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer()
}

async function setup(objectLayer: Partial<Extract<Layer, { kind: 'object' }>> & { transform: Extract<Layer, { kind: 'object' }>['transform'] }) {
  const store = new AssetStore()
  const photo = await store.add(await solid(200, 100, [0, 0, 255, 255], 'png'), 'photo.png', 64)
  const obj = await store.add(await cutout(), 'cut.png', 64)
  const c: Composition = {
    width: 200,
    height: 100,
    assets: [photo.meta, obj.meta],
    layers: [
      { kind: 'photo', id: 'p', name: 'Photo', assetId: photo.meta.id, visible: true, locked: false, opacity: 1 },
      { kind: 'object', id: 'o', name: 'Cut', assetId: obj.meta.id, visible: true, locked: false, opacity: 1, ...objectLayer },
    ],
  }
  return { c, bytesOf: (id: string) => store.get(id).bytes }
}

const T = { angle: 0, flipX: false, flipY: false }

describe('renderComposition', () => {
  it('renders at the photo original size, object centred at (x, y), scaled', async () => {
    const { c, bytesOf } = await setup({ transform: { ...T, x: 100, y: 50, scaleX: 2, scaleY: 2 } })
    const out = await renderComposition(c, bytesOf, { format: 'png' })
    const img = await rawRgba(out.data)
    expect([img.width, img.height]).toEqual([200, 100])
    // the 48x28 scaled cut-out spans x 76..124, y 36..64; opaque part x 80..120, y 40..60
    expect(pixel(img, 85, 50)).toEqual([255, 0, 0, 255])
    expect(pixel(img, 115, 50)).toEqual([0, 255, 0, 255])
    expect(pixel(img, 77, 50)).toEqual([0, 0, 255, 255]) // transparent border shows the photo
    expect(pixel(img, 100, 30)).toEqual([0, 0, 255, 255])
  })

  it('flips and rotates about the centre (clockwise)', async () => {
    const flipped = await setup({ transform: { ...T, x: 100, y: 50, scaleX: 2, scaleY: 2, flipX: true } })
    const f = await rawRgba((await renderComposition(flipped.c, flipped.bytesOf, { format: 'png' })).data)
    expect(pixel(f, 85, 50)).toEqual([0, 255, 0, 255])
    expect(pixel(f, 115, 50)).toEqual([255, 0, 0, 255])

    const rotated = await setup({ transform: { ...T, x: 100, y: 50, scaleX: 2, scaleY: 2, angle: 90 } })
    const r = await rawRgba((await renderComposition(rotated.c, rotated.bytesOf, { format: 'png' })).data)
    // clockwise 90: the left (red) half goes to the top
    expect(pixel(r, 100, 35)).toEqual([255, 0, 0, 255])
    expect(pixel(r, 100, 65)).toEqual([0, 255, 0, 255])
    expect(pixel(r, 85, 50)).toEqual([0, 0, 255, 255])
  })

  it('clips layers that hang over the edge and skips hidden ones', async () => {
    const { c, bytesOf } = await setup({ transform: { ...T, x: 0, y: 0, scaleX: 2, scaleY: 2 } })
    const img = await rawRgba((await renderComposition(c, bytesOf, { format: 'png' })).data)
    expect(pixel(img, 5, 5)).toEqual([0, 255, 0, 255])
    const hidden = await setup({ visible: false, transform: { ...T, x: 100, y: 50, scaleX: 2, scaleY: 2 } })
    const h = await rawRgba((await renderComposition(hidden.c, hidden.bytesOf, { format: 'png' })).data)
    expect(pixel(h, 85, 50)).toEqual([0, 0, 255, 255])
  })

  it('applies layer opacity and writes JPEG at the original size', async () => {
    const { c, bytesOf } = await setup({ opacity: 0.5, transform: { ...T, x: 100, y: 50, scaleX: 2, scaleY: 2 } })
    const img = await rawRgba((await renderComposition(c, bytesOf, { format: 'png' })).data)
    const p = pixel(img, 85, 50)
    expect(Math.abs(p[0] - 128)).toBeLessThan(3)
    expect(Math.abs(p[2] - 127)).toBeLessThan(3)
    const jpg = await renderComposition(c, bytesOf, { format: 'jpeg', quality: 80 })
    const meta = await sharp(jpg.data).metadata()
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 200, 100])
  })

  it('draws shadow layers with multiply', async () => {
    const { c, bytesOf } = await setup({ visible: false, transform: { ...T, x: 100, y: 50, scaleX: 1, scaleY: 1 } })
    const store = new AssetStore()
    const grey = await store.add(await solid(10, 10, [128, 128, 128, 255]), 'shadow.png', 64)
    c.assets.push(grey.meta)
    c.layers.splice(1, 0, { kind: 'shadow', id: 's', name: 'Shadow', objectId: 'o', assetId: grey.meta.id, visible: true, locked: false, opacity: 1, blend: 'multiply', transform: { ...T, x: 50, y: 50, scaleX: 1, scaleY: 1 } })
    const img = await rawRgba((await renderComposition(c, (id) => (id === grey.meta.id ? store.get(id).bytes : bytesOf(id)), { format: 'png' })).data)
    expect(pixel(img, 50, 50)[2]).toBeGreaterThan(120)
    expect(pixel(img, 50, 50)[2]).toBeLessThan(135)
    expect(pixel(img, 150, 50)).toEqual([0, 0, 255, 255])
  })

  it('refuses compositions that reference missing images', async () => {
    const { c, bytesOf } = await setup({ transform: { ...T, x: 1, y: 1, scaleX: 1, scaleY: 1 } })
    c.assets = c.assets.slice(0, 1)
    await expect(renderComposition(c, bytesOf, { format: 'png' })).rejects.toMatchObject({ code: 'BAD_COMPOSITION' })
  })
})
