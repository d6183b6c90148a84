import sharp from 'sharp'
import { crc32 } from 'node:zlib'

/** A solid-colour image, encoded. */
export async function solid(width: number, height: number, rgba: [number, number, number, number], format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<Buffer> {
  const s = sharp({ create: { width, height, channels: 4, background: { r: rgba[0], g: rgba[1], b: rgba[2], alpha: rgba[3] / 255 } } })
  if (format === 'jpeg') return s.flatten().jpeg({ quality: 95 }).toBuffer()
  if (format === 'webp') return s.webp({ lossless: true }).toBuffer()
  return s.png().toBuffer()
}

/** A noisy RGB photo-like image, so compression and truncation behave like a real photo. */
export async function noisy(width: number, height: number, format: 'png' | 'jpeg' = 'jpeg'): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3)
  let s = 12345
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    data[i] = (s >> 16) & 0xff
  }
  const p = sharp(data, { raw: { width, height, channels: 3 } })
  return format === 'jpeg' ? p.jpeg({ quality: 90 }).toBuffer() : p.png().toBuffer()
}

/** A tiny PNG whose header claims `width` x `height` (a decompression-bomb shape). */
export async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer())
  // IHDR data starts at byte 16 (8 signature + 4 length + 4 type); CRC covers type + data (17 bytes).
  png.writeUInt32BE(width, 16)
  png.writeUInt32BE(height, 20)
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29)
  return png
}

export async function rawRgba(bytes: Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

export function pixel(img: { data: Buffer; width: number }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4
  return [img.data[i], img.data[i + 1], img.data[i + 2], img.data[i + 3]]
}
