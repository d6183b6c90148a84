import { describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { encodeImage, resizeRawImage } from '../../../src/core/image'

describe('encodeImage', () => {
  it('writes a 1-channel mask as a single-channel greyscale PNG with its values intact', async () => {
    const data = new Uint8Array([0, 255, 255, 0, 255, 0, 0, 255, 0])
    const png = await encodeImage({ width: 3, height: 3, channels: 1, data }, { format: 'png' })
    const meta = await sharp(png).metadata()
    expect(meta.channels).toBe(1)
    const raw = await sharp(png).extractChannel(0).raw().toBuffer()
    expect([...raw]).toEqual([...data])
  })

  it('keeps RGBA images as 4-channel PNGs', async () => {
    const data = new Uint8Array(2 * 2 * 4).fill(128)
    const png = await encodeImage({ width: 2, height: 2, channels: 4, data }, { format: 'png' })
    expect((await sharp(png).metadata()).channels).toBe(4)
  })
})

describe('resizeRawImage', () => {
  it('keeps one channel one channel (sharp alone would hand back sRGB) and resizes a region', async () => {
    // 8x4 mask: the right half lit.
    const data = new Uint8Array(8 * 4)
    for (let y = 0; y < 4; y++) for (let x = 4; x < 8; x++) data[y * 8 + x] = 255
    const mask = { width: 8, height: 4, channels: 1 as const, data }
    const big = await resizeRawImage(mask, 16, 8, { kernel: 'nearest' })
    expect(big.channels).toBe(1)
    expect(big.data.length).toBe(16 * 8)
    for (let y = 0; y < 8; y++) {
      expect(big.data[y * 16 + 2]).toBe(0)
      expect(big.data[y * 16 + 12]).toBe(255)
    }
    const right = await resizeRawImage(mask, 2, 2, { kernel: 'nearest', region: { left: 4, top: 0, width: 4, height: 4 } })
    expect([...right.data]).toEqual([255, 255, 255, 255])
    expect(await resizeRawImage(mask, 8, 4)).toBe(mask) // nothing to do
  })
})
