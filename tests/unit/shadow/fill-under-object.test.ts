import { describe, expect, it } from 'vitest'
import { fillUnderObject } from '../../../src/jobs/engine/generate'

/** The hole the pipeline leaves under the object is filled from the shadow around it. */
describe('fillUnderObject', () => {
  it('fills every pixel under the object, in every row, and leaves the rest as it was', async () => {
    // A 40x40 layer over photo rectangle (0, 0, 80, 80): an even 50% black shadow, except a hole
    // under a 40x60 object at (20, 10) of the 80x80 photo (layer pixels 10-29 x 5-34).
    const w = 40
    const h = 40
    const rgba = Buffer.alloc(w * h * 4)
    const mask = new Uint8Array(80 * 80)
    for (let y = 10; y < 70; y++) for (let x = 20; x < 60; x++) mask[y * 80 + x] = 255
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const hole = x >= 10 && x < 30 && y >= 5 && y < 35
        rgba[(y * w + x) * 4 + 3] = hole ? 0 : 128
      }
    }
    const before = Buffer.from(rgba)
    await fillUnderObject(rgba, w, h, mask, 80, 80, { x: 0, y: 0, width: 80, height: 80 })
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4 + 3
        const hole = x >= 10 && x < 30 && y >= 5 && y < 35
        // 8-bit premultiplied blurs: a few levels of rounding.
        if (hole) expect(Math.abs(rgba[i] - 128), `alpha at ${x},${y}`).toBeLessThanOrEqual(5)
        else expect(rgba[i]).toBe(before[i])
      }
    }
  })
})
