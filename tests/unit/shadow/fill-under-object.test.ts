import { describe, expect, it } from 'vitest'
import { fillUnderObject } from '../../../src/jobs/engine/generate'

/**
 * The hole the pipeline leaves under the object is filled from the shadow around it, where the
 * shadow goes on behind the object: on the cast side of the contact point only.
 */
describe('fillUnderObject', () => {
  // A 40x40 layer over photo rectangle (0, 0, 80, 80): an even 50% black shadow, except a hole
  // under a 40x60 object at (20, 10) of the 80x80 photo (layer pixels 10-29 x 5-34); the contact
  // point is the middle of the object's base, (40, 70).
  const w = 40
  const h = 40
  const contact = { x: 40, y: 70 }
  const inHole = (x: number, y: number) => x >= 10 && x < 30 && y >= 5 && y < 35
  async function filled(cast: { contact: { x: number; y: number }; angle: number } | null): Promise<{ rgba: Buffer; before: Buffer }> {
    const rgba = Buffer.alloc(w * h * 4)
    const mask = new Uint8Array(80 * 80)
    for (let y = 10; y < 70; y++) for (let x = 20; x < 60; x++) mask[y * 80 + x] = 255
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgba[(y * w + x) * 4 + 3] = inHole(x, y) ? 0 : 128
    const before = Buffer.from(rgba)
    await fillUnderObject(rgba, w, h, mask, 80, 80, { x: 0, y: 0, width: 80, height: 80 }, cast)
    return { rgba, before }
  }
  const alpha = (rgba: Buffer, x: number, y: number) => rgba[(y * w + x) * 4 + 3]

  it('fills the whole hole, in every row, when the shadow runs on behind the object (cast away from the camera)', async () => {
    const { rgba, before } = await filled({ contact, angle: -90 })
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // 8-bit premultiplied blurs: a few levels of rounding.
        if (inHole(x, y)) expect(Math.abs(alpha(rgba, x, y) - 128), `alpha at ${x},${y}`).toBeLessThanOrEqual(5)
        else expect(alpha(rgba, x, y)).toBe(alpha(before, x, y))
      }
    }
  })

  it('fills only the cast side: nothing for a shadow towards the camera, the left half for one to the left', async () => {
    const towards = (await filled({ contact, angle: 90 })).rgba
    const left = (await filled({ contact, angle: 180 })).rgba
    for (let y = 5; y < 35; y++) {
      for (let x = 10; x < 30; x++) {
        expect(alpha(towards, x, y), `towards the camera, ${x},${y}`).toBe(0)
        if (x < 20) expect(Math.abs(alpha(left, x, y) - 128), `left, ${x},${y}`).toBeLessThanOrEqual(5)
        else expect(alpha(left, x, y), `left, ${x},${y}`).toBe(0)
      }
    }
  })

  it('without a cast direction fills only the rim a short blur reaches', async () => {
    const { rgba } = await filled(null)
    expect(alpha(rgba, 10, 20)).toBeGreaterThan(0) // the hole's edge
    expect(alpha(rgba, 20, 20)).toBe(0) // its middle
  })
})
