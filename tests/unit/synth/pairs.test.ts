import { describe, expect, it } from 'vitest'
import { renderPair } from '../../../src/synth/render'
import { proceduralTextures, type TextureSet } from '../../../src/synth/textures'

const textures: TextureSet = { source: null, textures: proceduralTextures(64), skipped: [] }
const SIZE = 80

describe('synthetic pairs: masks agree with images', () => {
  const seeds = [3, 17, 42, 99, 123, 2024]
  const pairs = seeds.map((seed) => renderPair(seed, { size: SIZE, textures }))

  it('has images and masks of the right shape, masks strictly 0/255', () => {
    for (const p of pairs) {
      expect(p.noShadow).toMatchObject({ width: SIZE, height: SIZE, channels: 3 })
      expect(p.shadow).toMatchObject({ width: SIZE, height: SIZE, channels: 3 })
      for (const m of [p.object, p.objectShadow, p.occluders, p.occluderShadows]) {
        expect(m).toMatchObject({ width: SIZE, height: SIZE, channels: 1 })
        expect(m.data.every((v) => v === 0 || v === 255)).toBe(true)
      }
    }
  })

  it('differs between shadow and noshadow only inside object-shadow.png, and that mask is not empty', () => {
    for (const p of pairs) {
      let inside = 0
      let darkerInside = 0
      for (let i = 0; i < SIZE * SIZE; i++) {
        const d = Math.max(...[0, 1, 2].map((c) => Math.abs(p.shadow.data[3 * i + c] - p.noShadow.data[3 * i + c])))
        if (p.objectShadow.data[i]) {
          inside++
          const before = p.noShadow.data[3 * i] + p.noShadow.data[3 * i + 1] + p.noShadow.data[3 * i + 2]
          const after = p.shadow.data[3 * i] + p.shadow.data[3 * i + 1] + p.shadow.data[3 * i + 2]
          if (after < before) darkerInside++
        } else {
          expect(d, `seed ${p.meta.seed} pixel ${i} differs outside the object-shadow mask`).toBe(0)
        }
      }
      expect(inside, `seed ${p.meta.seed}: empty object-shadow mask`).toBeGreaterThan(0)
      // A shadow darkens: nearly every masked pixel is darker in shadow.png.
      expect(darkerInside / inside).toBeGreaterThan(0.95)
    }
  })

  it('keeps masks consistent with each other and with the scene', () => {
    for (const p of pairs) {
      let obj = 0
      for (let i = 0; i < SIZE * SIZE; i++) {
        if (p.object.data[i]) {
          obj++
          // The object is never its own shadow nor an occluder.
          expect(p.objectShadow.data[i]).toBe(0)
          expect(p.occluders.data[i]).toBe(0)
        }
        if (p.occluderShadows.data[i]) expect(p.occluders.data[i] + p.object.data[i]).toBe(0)
      }
      expect(obj).toBeGreaterThan(0)
      expect(p.meta.areas.object).toBe(obj)
      expect(p.meta.occluders.length).toBeGreaterThanOrEqual(0)
      expect(p.meta.light.elevationDeg).toBeGreaterThan(0)
    }
  })
})

describe('synthetic pairs: determinism', () => {
  it('gives identical pixels and meta for the same seed', () => {
    const a = renderPair(7, { size: 64, textures })
    const b = renderPair(7, { size: 64, textures })
    expect(Buffer.from(a.noShadow.data).equals(Buffer.from(b.noShadow.data))).toBe(true)
    expect(Buffer.from(a.shadow.data).equals(Buffer.from(b.shadow.data))).toBe(true)
    expect(Buffer.from(a.objectShadow.data).equals(Buffer.from(b.objectShadow.data))).toBe(true)
    expect(JSON.stringify(a.meta)).toBe(JSON.stringify(b.meta))
  })

  it('gives different scenes for different seeds', () => {
    const metas = [1, 2, 3, 4].map((s) => renderPair(s, { size: 48, textures, maxAttempts: 1 }))
    const lights = new Set(metas.map((m) => `${m.meta.light.azimuthDeg}/${m.meta.light.elevationDeg}`))
    expect(lights.size).toBe(4)
    for (let i = 1; i < metas.length; i++) expect(Buffer.from(metas[i].noShadow.data).equals(Buffer.from(metas[0].noShadow.data))).toBe(false)
  })
})
