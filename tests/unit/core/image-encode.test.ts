import { describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { encodeImage } from '../../../src/core/image'

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
