import { describe, expect, it } from 'vitest'
import { maskBoundingBox } from '../../../src/engine/pipeline'

/** The box by a plain scan of every pixel. */
function naiveBox(data: Uint8Array, width: number, height: number) {
  let x0 = width
  let x1 = -1
  let y0 = -1
  let y1 = -1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[y * width + x] === 0) continue
      if (y0 < 0) y0 = y
      y1 = y
      x0 = Math.min(x0, x)
      x1 = Math.max(x1, x)
    }
  }
  return y0 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }
}

describe('maskBoundingBox', () => {
  it('agrees with a plain scan on random masks of odd sizes at every byte alignment', () => {
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff)
    for (let trial = 0; trial < 300; trial++) {
      const width = 1 + Math.floor(random() * 23)
      const height = 1 + Math.floor(random() * 17)
      const offset = trial % 4 // a view that starts off a 4-byte boundary reads bytes only
      const backing = new Uint8Array(offset + width * height + 3)
      const data = backing.subarray(offset, offset + width * height)
      const dots = Math.floor(random() * 4)
      for (let d = 0; d < dots; d++) data[Math.floor(random() * data.length)] = 1 + Math.floor(random() * 255)
      backing[offset + width * height] = 9 // a nonzero byte just past the mask must not count
      if (offset > 0) backing[offset - 1] = 9 // nor one just before it
      expect(maskBoundingBox({ width, height, channels: 1, data })).toEqual(naiveBox(data, width, height))
    }
  })

  it('finds one pixel in the last corner of a large mask', () => {
    const width = 4033
    const height = 301
    const data = new Uint8Array(width * height)
    data[data.length - 1] = 255
    expect(maskBoundingBox({ width, height, channels: 1, data })).toEqual({ x: width - 1, y: height - 1, width: 1, height: 1 })
    data[5 * width + 2] = 1
    expect(maskBoundingBox({ width, height, channels: 1, data })).toEqual({ x: 2, y: 5, width: width - 2, height: height - 5 })
  })
})
