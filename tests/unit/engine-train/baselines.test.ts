import { describe, expect, it } from 'vitest'
import type { RawImage } from '../../../src/core/image'
import { DEFAULT_LIGHT, estimateLight, geometricBaseline, runBaseline } from '../../../src/engine/baselines'

const W = 96

function mask(f: (x: number, y: number) => boolean): RawImage {
  const data = new Uint8Array(W * W)
  for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) data[y * W + x] = f(x, y) ? 255 : 0
  return { width: W, height: W, channels: 1, data }
}

/** A pole (occluder) standing at y=59 whose shadow runs 30 px right and 10 px down on the ground, at half brightness. */
function scene(withOccluder: boolean) {
  const occluders = mask((x, y) => withOccluder && x >= 10 && x <= 14 && y >= 20 && y <= 59)
  const occluderShadows = mask((x, y) => withOccluder && x >= 15 && x <= 45 && Math.abs(y - (59 + ((x - 15) / 30) * 10)) <= 2)
  const object = mask((x, y) => x >= 60 && x <= 66 && y >= 40 && y <= 69)
  const data = new Uint8Array(W * W * 3)
  for (let i = 0; i < W * W; i++) {
    const v = occluderShadows.data[i] ? 100 : 200
    data.set([v, v, v], i * 3)
    if (object.data[i]) data.set([30, 200, 30], i * 3)
  }
  const noShadow: RawImage = { width: W, height: W, channels: 3, data }
  return { noShadow, object, occluders, occluderShadows }
}

describe('baselines', () => {
  it('identity returns the shadow-free photo unchanged (as a copy)', () => {
    const s = scene(true)
    const out = runBaseline('identity', s)
    expect(Array.from(out.data)).toEqual(Array.from(s.noShadow.data))
    expect(out.data).not.toBe(s.noShadow.data)
  })

  it('estimates the light direction and darkening from an occluder and its shadow', () => {
    const s = scene(true)
    const est = estimateLight(s.noShadow, s.occluders, s.occluderShadows)
    expect(est.fromScene).toBe(true)
    // shadow centroid (30, 64) - foot (12, 59), over half the pole height (20) = (0.9, 0.25)
    expect(est.k[0]).toBeGreaterThan(0.8)
    expect(est.k[0]).toBeLessThan(1.0)
    expect(est.k[1]).toBeGreaterThan(0.15)
    expect(est.k[1]).toBeLessThan(0.35)
    for (const d of est.darkening) expect(d).toBeCloseTo(0.5, 2)
  })

  it('falls back to a sensible default without occluder shadows', () => {
    const s = scene(false)
    const est = estimateLight(s.noShadow, s.occluders, s.occluderShadows)
    expect(est.fromScene).toBe(false)
    expect(est.k).toEqual(DEFAULT_LIGHT.k)
    expect(est.darkening).toEqual(DEFAULT_LIGHT.darkening)
  })

  it('the geometric shadow falls on the lit side of the light, never on the object, and is bounded', () => {
    const s = scene(true)
    const { image } = geometricBaseline(s)
    const lum = (x: number, y: number) => image.data[(y * W + x) * 3]
    // object pixels are untouched
    for (let i = 0; i < W * W; i++) if (s.object.data[i]) expect(Array.from(image.data.slice(i * 3, i * 3 + 3))).toEqual([30, 200, 30])
    // ground right of the object's foot is darkened, ground to its left is not
    // a point half-way up the object (h = 15) lands near (63 + 13.5, 69 + 3.75)
    expect(lum(76, 73)).toBeLessThan(150)
    expect(lum(50, 73)).toBe(200)
    // far from the object nothing changes
    expect(lum(90, 10)).toBe(200)
    // the darkest shadow pixel is not darker than the measured ratio allows
    let darkest = 255
    for (let y = 60; y < W; y++) for (let x = 67; x < W; x++) darkest = Math.min(darkest, lum(x, y))
    expect(darkest).toBeGreaterThanOrEqual(99)
  })
})
