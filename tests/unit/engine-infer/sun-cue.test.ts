import { describe, expect, it } from 'vitest'
import type { RawImage } from '../../../src/core/image'
import { brightestPatch, castAngleFromSun, findSunInPhoto, SUN_MIN_CONTRAST, SUN_MIN_GLOW } from '../../../src/engine/sun-cue'

const W = 640
const H = 400

/** A photo whose luma at (x, y) is lum(x, y), grey (R = G = B). */
function photo(lum: (x: number, y: number) => number): RawImage {
  const data = new Uint8Array(W * H * 3)
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) data.fill(Math.max(0, Math.min(255, Math.round(lum(x, y)))), (y * W + x) * 3, (y * W + x) * 3 + 3)
  return { width: W, height: H, channels: 3, data }
}

/** A dusk scene: dark ground below the horizon (y = 0.45 H), a dim sky, and a sun glow at (sx, sy) fading over `r` pixels. */
const dusk = (sx: number, sy: number, r = 40) =>
  photo((x, y) => {
    const base = y > 0.45 * H ? 55 : 90
    return base + 200 * Math.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * r * r))
  })

const foot = { x: 0.7 * W, y: 0.85 * H }

describe('the sun in the picture', () => {
  it('finds a sunset glow above the horizon, and the shadow runs away from it, through the foot', () => {
    const sun = findSunInPhoto(dusk(0.3 * W, 0.3 * H), null, foot)
    expect(sun).not.toBeNull()
    expect(Math.abs(sun!.x - 0.3 * W)).toBeLessThan(8)
    expect(Math.abs(sun!.y - 0.3 * H)).toBeLessThan(8)
    expect(sun!.contrast).toBeGreaterThan(SUN_MIN_CONTRAST)
    expect(sun!.glow).toBeGreaterThan(SUN_MIN_GLOW)
    // The sun upper left of the object: its shadow falls down and to the right, towards the viewer.
    const angle = (castAngleFromSun(sun!, foot) * 180) / Math.PI
    expect(angle).toBeGreaterThan(20)
    expect(angle).toBeLessThan(70)
    // The same sun right of the object: the shadow falls down and to the left.
    const right = findSunInPhoto(dusk(0.9 * W, 0.25 * H), null, { x: 0.3 * W, y: 0.85 * H })!
    expect(Math.cos(castAngleFromSun(right, { x: 0.3 * W, y: 0.85 * H }))).toBeLessThan(-0.5)
  })

  it('is not fooled by a bright overcast sky, a white thing with hard edges, or a glow below the object', () => {
    // Overcast: the whole sky bright, the ground mid grey. Nothing compact and far brighter than the rest.
    const overcast = photo((_, y) => (y < 0.45 * H ? 235 : 110))
    expect(brightestPatch(overcast, null)!.spread).toBeGreaterThan(0.09)
    expect(findSunInPhoto(overcast, null, foot)).toBeNull()
    // A white disc on a dark ground: compact and bright, but no glow round it.
    const disc = photo((x, y) => (Math.hypot(x - 0.3 * W, y - 0.3 * H) < 30 ? 250 : 50))
    expect(brightestPatch(disc, null)!.glow).toBeLessThan(SUN_MIN_GLOW)
    expect(findSunInPhoto(disc, null, foot)).toBeNull()
    // A glow level with the object's foot (a lamp on the ground, a reflection): not a sun above the scene.
    expect(findSunInPhoto(dusk(0.3 * W, 0.8 * H), null, foot)).toBeNull()
    // Daylight: a sky barely brighter than the ground.
    expect(findSunInPhoto(photo((x, y) => (y < 0.45 * H ? 170 : 120) + 60 * Math.exp(-((x - 200) ** 2 + (y - 100) ** 2) / 3200)), null, foot)).toBeNull()
  })

  it("leaves the object's own pixels out: a glowing cut-out is not the sun", () => {
    const glowing = dusk(0.3 * W, 0.3 * H, 30)
    const dark = photo((_, y) => (y > 0.45 * H ? 55 : 90))
    // The "object" covers the glow; with its mask the rest of the photo is a plain dusk, no sun.
    const mask: RawImage = { width: W, height: H, channels: 1, data: new Uint8Array(W * H) }
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (Math.hypot(x - 0.3 * W, y - 0.3 * H) < 120) mask.data[y * W + x] = 255
    expect(findSunInPhoto(glowing, null, foot)).not.toBeNull()
    expect(findSunInPhoto(glowing, mask, foot)).toBeNull()
    expect(findSunInPhoto(dark, null, foot)).toBeNull()
    expect(() => findSunInPhoto(glowing, { ...mask, width: W - 1 }, foot)).toThrow(/differ in size/)
  })
})
