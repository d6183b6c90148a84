import { describe, expect, it } from 'vitest'
import { applyShadingCue, litSide, MIN_SHADING_PIXELS, objectShading, rightwardMass, SHADING_CUE_WEIGHTS } from '../../../src/engine/shading-cue'
import { maskBoundingBox } from '../../../src/engine/pipeline'
import type { RawImage } from '../../../src/core/image'

/** A grey photo with a w x h object at (x0, y0) whose luma is lum(u, v) (u, v in 0..1 across it); the mask marks it. */
function photo(width: number, height: number, x0: number, y0: number, w: number, h: number, lum: (u: number, v: number) => number, channels: 3 | 4 = 3) {
  const image: RawImage = { width, height, channels, data: new Uint8Array(width * height * channels).fill(128) }
  const mask: RawImage = { width, height, channels: 1, data: new Uint8Array(width * height) }
  for (let y = y0; y < y0 + h; y++)
    for (let x = x0; x < x0 + w; x++) {
      const v = Math.round(lum((x - x0) / (w - 1), (y - y0) / (h - 1)))
      for (let c = 0; c < 3; c++) image.data[(y * width + x) * channels + c] = v
      mask.data[y * width + x] = 255
    }
  return { image, mask, box: maskBoundingBox(mask)! }
}

describe("the object's shading", () => {
  it('a ramp brighter to the right reads as light from the right, whatever its size and contrast', () => {
    const a = photo(200, 160, 50, 30, 60, 100, (u) => 60 + 120 * u)
    const right = objectShading(a.image, a.mask, a.box)!
    // A linear ramp across the object: sqrt(12)/4 (the slope per quarter extent in standard deviations).
    expect(right.x).toBeCloseTo(Math.sqrt(12) / 4, 1)
    expect(Math.abs(right.rim)).toBeLessThan(0.1) // a ramp: the rim is as bright as the core on average
    // Half the contrast, three times the size, in an RGBA photo: the same numbers.
    const b = photo(600, 480, 150, 90, 180, 300, (u) => 100 + 60 * u, 4)
    const big = objectShading(b.image, b.mask, b.box)!
    expect(big.x).toBeCloseTo(right.x, 1)
    // Mirrored: light from the left. Brighter at the bottom: y > 0.
    const c = photo(200, 160, 50, 30, 60, 100, (u) => 180 - 120 * u)
    expect(objectShading(c.image, c.mask, c.box)!.x).toBeCloseTo(-right.x, 6)
  })

  it('a bright rim round a darker core reads as light from behind the object; a bright core, as light from the front', () => {
    // Brightness by the distance from the object's edge (0 at the edge, 1 in the middle).
    const edge = (u: number, v: number) => Math.min(u, 1 - u, v, 1 - v) * 2
    const backlit = photo(200, 160, 50, 30, 60, 100, (u, v) => 220 - 150 * edge(u, v))
    const frontlit = photo(200, 160, 50, 30, 60, 100, (u, v) => 70 + 150 * edge(u, v))
    const back = objectShading(backlit.image, backlit.mask, backlit.box)!
    const front = objectShading(frontlit.image, frontlit.mask, frontlit.box)!
    expect(back.rim).toBeGreaterThan(0.8)
    expect(front.rim).toBeLessThan(-0.8)
    // Symmetric left to right: no slope across.
    expect(Math.abs(back.x)).toBeLessThan(0.05)
  })

  it('reads the slope within rows: a dark base that reaches further right does not pass for light from the left', () => {
    // An L-shaped object: a bright upper part on the left, a dark base (trousers, a plinth) that
    // reaches further right, every row lit a little from the right. One slope over the whole object
    // would see the right side darker; within each row it is brighter.
    const width = 200, height = 160
    const image: RawImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(128) }
    const mask: RawImage = { width, height, channels: 1, data: new Uint8Array(width * height) }
    for (let y = 20; y < 140; y++) {
      const base = y >= 90
      for (let x = 40; x < (base ? 160 : 90); x++) {
        const v = (base ? 50 : 200) + 0.3 * (x - 40)
        image.data.fill(Math.round(v), (y * width + x) * 3, (y * width + x) * 3 + 3)
        mask.data[y * width + x] = 255
      }
    }
    let sx = 0, sl = 0, sxl = 0, n = 0
    for (let i = 0; i < width * height; i++) {
      if (!mask.data[i]) continue
      const x = i % width
      sx += x
      sl += image.data[i * 3]
      sxl += x * image.data[i * 3]
      n++
    }
    expect(sxl - (sx * sl) / n).toBeLessThan(0) // one slope over the whole object: darker to the right
    expect(objectShading(image, mask, maskBoundingBox(mask)!)!.x).toBeGreaterThan(0.5) // within rows: lit from the right
  })

  it("ignores the object's rim (a cut-out's edge mixes in the background), and says nothing about flat or tiny objects", () => {
    // Flat inside, a bright column on the right edge only: no slope.
    const rim = photo(200, 160, 50, 30, 60, 100, (u) => (u > 0.99 ? 250 : 90))
    expect(objectShading(rim.image, rim.mask, rim.box)).toBeNull()
    const flat = photo(200, 160, 50, 30, 60, 100, () => 90)
    expect(objectShading(flat.image, flat.mask, flat.box)).toBeNull()
    const tiny = photo(200, 160, 50, 30, 5, 5, (u) => 60 + 120 * u)
    expect(9).toBeLessThan(MIN_SHADING_PIXELS) // its 3x3 interior
    expect(objectShading(tiny.image, tiny.mask, tiny.box)).toBeNull()
  })

  it('reads a large object on a grid (a 12 MP photo costs at most about 65,536 samples)', () => {
    const big = photo(4000, 3000, 500, 200, 2400, 2600, (u) => 40 + 180 * u)
    const s = objectShading(big.image, big.mask, big.box)!
    expect(s.pixels).toBeLessThanOrEqual(65536)
    expect(s.pixels).toBeGreaterThan(30000)
    expect(s.x).toBeCloseTo(Math.sqrt(12) / 4, 1)
  })

  it('rejects a mask of another size', () => {
    const a = photo(200, 160, 50, 30, 60, 100, (u) => 60 + 120 * u)
    expect(() => objectShading(a.image, { ...a.mask, width: 100, data: new Uint8Array(100 * 160) }, a.box)).toThrow(/differ in size/)
  })
})

describe('weighing the belief by the shading', () => {
  const leftOrRight = () => {
    const b = new Float64Array(16)
    b[0] = 0.4 // right
    b[8] = 0.4 // left
    b[4] = 0.1 // down
    b[12] = 0.1 // up
    return b
  }
  it('lit from the right makes shadows to the left likelier, the more so the stronger the slope; a bright rim, shadows towards the viewer; neither changes nothing', () => {
    const belief = leftOrRight()
    expect(rightwardMass(belief)).toBeCloseTo(0.5, 12)
    const weak = applyShadingCue(belief, { x: 0.2, rim: 0, pixels: 100 })
    const strong = applyShadingCue(belief, { x: 0.8, rim: 0, pixels: 100 })
    expect(strong.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12)
    expect(rightwardMass(weak)).toBeLessThan(0.5)
    expect(rightwardMass(strong)).toBeLessThan(rightwardMass(weak))
    // With the fitted weights, a clear slope (0.8) settles left against right by exp(2 * 2 * 0.8) = 25 to 1.
    expect(strong[8] / strong[0]).toBeCloseTo(Math.exp(2 * SHADING_CUE_WEIGHTS.x * 0.8), 6)
    // Up and down are untouched relative to each other without a rim, and a level object changes nothing.
    expect(strong[4] / strong[12]).toBeCloseTo(1, 12)
    expect(Array.from(applyShadingCue(belief, { x: 0, rim: 0, pixels: 100 }))).toEqual(Array.from(belief).map((v) => expect.closeTo(v, 12)))
    // A bright rim (light from behind) makes shadows down the photo, towards the viewer, likelier.
    const backlit = applyShadingCue(belief, { x: 0, rim: 0.6, pixels: 100 })
    expect(backlit[4] / backlit[12]).toBeCloseTo(Math.exp(2 * SHADING_CUE_WEIGHTS.rim * 0.6), 6)
    expect(backlit[0] / backlit[8]).toBeCloseTo(1, 12)
    // The side is named when the slope reads clearly and the weighed belief follows it; a rim alone
    // never names one, even where it shifts an uneven belief (down-right likelier than up-left) sideways.
    expect(litSide(belief, { x: 0.8, rim: 0, pixels: 100 })).toBe('right')
    expect(litSide(belief, { x: -0.8, rim: 0, pixels: 100 })).toBe('left')
    expect(litSide(belief, { x: 0.02, rim: 0, pixels: 100 })).toBeNull()
    // A belief already sure of the side the shading implies still gets the reason named...
    const sureLeft = new Float64Array(16)
    sureLeft[8] = 0.95 // left
    sureLeft[0] = 0.05 // right
    expect(litSide(sureLeft, { x: 0.8, rim: 0, pixels: 100 })).toBe('right')
    // ...but not one sure of the other side, which the slope does not overturn.
    const sureRight = new Float64Array(16)
    sureRight[0] = 0.999
    sureRight[8] = 0.001
    expect(rightwardMass(applyShadingCue(sureRight, { x: 0.8, rim: 0, pixels: 100 }))).toBeGreaterThan(0.5)
    expect(litSide(sureRight, { x: 0.8, rim: 0, pixels: 100 })).toBeNull()
    const uneven = new Float64Array(16)
    uneven[2] = 0.5 // down-right
    uneven[10] = 0.5 // up-left
    expect(rightwardMass(applyShadingCue(uneven, { x: 0, rim: 1, pixels: 100 }))).toBeGreaterThan(0.6)
    expect(litSide(uneven, { x: 0, rim: 1, pixels: 100 })).toBeNull()
    // Lit from the left: the mirror image.
    expect(rightwardMass(applyShadingCue(belief, { x: -0.8, rim: 0, pixels: 100 }))).toBeCloseTo(1 - rightwardMass(strong), 12)
  })
})
