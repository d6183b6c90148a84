import { describe, expect, it } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AssetStore, readUserFile } from '../../../src/core/assets'
import { decodeRgb, makePreview, probeImage } from '../../../src/core/image'
import { noisy, pngClaiming, solid } from '../../helpers/images'
import sharp from 'sharp'

const dir = mkdtempSync(join(tmpdir(), 'umbra-bad-'))

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code'
  }
  return 'no error'
}

describe('decoding bad files gives clear UserErrors', () => {
  it('zero-byte file', async () => {
    const f = join(dir, 'empty.jpg')
    writeFileSync(f, '')
    expect(await code(probeImage(f))).toBe('EMPTY_FILE')
    expect(await code(readUserFile(f))).toBe('EMPTY_FILE')
    expect(await code(new AssetStore().add(new Uint8Array(0), 'empty.jpg', 512))).toBe('EMPTY_FILE')
  })

  it('a path that does not exist', async () => {
    expect(await code(readUserFile(join(dir, 'gone.jpg')))).toBe('NOT_FOUND')
    expect(await code(decodeRgb(join(dir, 'gone.jpg')))).toBe('NOT_FOUND')
  })

  it('text mislabelled as an image', async () => {
    const err = await new AssetStore().add(new TextEncoder().encode('hello, not a jpeg'), 'photo.jpg', 512).catch((e) => e)
    expect(err.code).toBe('NOT_AN_IMAGE')
    expect(err.message).toContain('photo.jpg')
  })

  it('an image in a format we do not open (GIF named .png)', async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#f00' } }).gif().toBuffer()
    expect(await code(new AssetStore().add(gif, 'x.png', 512))).toBe('UNSUPPORTED_FORMAT')
  })

  it('a JPEG named .png still opens (content decides, not the name)', async () => {
    const jpg = await solid(8, 6, [10, 200, 30, 255], 'jpeg')
    const { meta } = await new AssetStore().add(jpg, 'really-a-jpeg.png', 512)
    expect(meta.mime).toBe('image/jpeg')
    expect([meta.width, meta.height]).toEqual([8, 6])
  })

  it('truncated JPEG is refused at import (full decode), not at export', async () => {
    const jpg = await noisy(400, 300)
    const cut = jpg.subarray(0, Math.floor(jpg.length / 2))
    const err = await new AssetStore().add(cut, 'cut.jpg', 512).catch((e) => e)
    expect(err.code).toBe('CORRUPT_IMAGE')
    expect(err.message).toMatch(/cut\.jpg is damaged or truncated/)
  })

  it('truncated PNG is refused', async () => {
    const png = await noisy(300, 200, 'png')
    expect(await code(new AssetStore().add(png.subarray(0, png.length - 2000), 'cut.png', 512))).toMatch(/CORRUPT_IMAGE|NOT_AN_IMAGE/)
  })

  it('a JPEG with damaged headers is refused', async () => {
    const jpg = Buffer.from(await noisy(300, 200))
    for (let i = 20; i < 400; i += 3) jpg[i] = 0xff
    expect(await code(new AssetStore().add(jpg, 'bad.jpg', 512))).toMatch(/CORRUPT_IMAGE|NOT_AN_IMAGE/)
  })

  it('a decompression bomb (huge claimed size) is refused before decoding', async () => {
    const bomb = await pngClaiming(40000, 40000)
    const err = await new AssetStore().add(bomb, 'bomb.png', 512).catch((e) => e)
    expect(err.code).toMatch(/TOO_LARGE|NOT_AN_IMAGE/)
    expect(err.message).toContain('bomb.png')
  })

  it('EXIF orientation is honoured in size and preview', async () => {
    const src = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#888' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer()
    const info = await probeImage(src)
    expect([info.width, info.height]).toEqual([20, 40])
    const p = await makePreview(src, 1000, false)
    expect([p.width, p.height]).toEqual([20, 40])
  })

  it('previews are downscaled, originals kept', async () => {
    const big = await noisy(3000, 1000)
    const store = new AssetStore()
    const { meta, preview } = await store.add(big, 'big.jpg', 1024)
    expect([meta.width, meta.height]).toEqual([3000, 1000])
    expect([preview.width, preview.height]).toEqual([1024, 341])
    expect(store.get(meta.id).bytes.length).toBe(big.length)
  })
})
