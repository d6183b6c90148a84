import sharp from 'sharp'
import type { Metadata, OutputInfo, Sharp } from 'sharp'
import { promises as fs } from 'node:fs'
import { UserError } from './errors'
import { writeFileAtomic } from './atomic'

/** Largest image we decode: ~100 MP comfortably covers 50 MP photos and refuses decompression bombs. */
export const MAX_INPUT_PIXELS = 100_000_000

/** Interleaved 8-bit pixels, row-major. channels: 1 (mask/grey), 3 (RGB) or 4 (RGBA). */
export interface RawImage {
  width: number
  height: number
  channels: 1 | 3 | 4
  data: Uint8Array
}

export type ImageFormat = 'png' | 'jpeg' | 'webp'

async function readInput(input: string | Uint8Array): Promise<Buffer> {
  if (typeof input !== 'string') return Buffer.from(input.buffer, input.byteOffset, input.byteLength)
  try {
    const buf = await fs.readFile(input)
    if (buf.length === 0) throw new UserError('EMPTY_FILE', `${input} is empty (0 bytes)`)
    return buf
  } catch (err) {
    if (err instanceof UserError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UserError('NOT_FOUND', `${input} does not exist`)
    if (code === 'EISDIR') throw new UserError('NOT_A_FILE', `${input} is a folder, not an image`)
    throw new UserError('UNREADABLE', `cannot read ${input}: ${(err as Error).message}`)
  }
}

function label(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : 'the image'
}

/**
 * Reads and checks an image's header: a format Umbra opens, some pixels, within the pixel limit.
 * Both the decoders (`openImage`) and the cheap probe (`probeImage`) go through it.
 */
async function readCheckedHeader(input: string | Uint8Array): Promise<{ buf: Buffer; meta: Metadata; width: number; height: number }> {
  const buf = await readInput(input)
  if (buf.length === 0) throw new UserError('EMPTY_FILE', `${label(input)} is empty (0 bytes)`)
  let meta: Metadata
  try {
    meta = await sharp(buf, { limitInputPixels: MAX_INPUT_PIXELS }).metadata()
  } catch (err) {
    throw new UserError('NOT_AN_IMAGE', `${label(input)} is not a readable image (${(err as Error).message})`)
  }
  if (!meta.format || !['jpeg', 'png', 'webp'].includes(meta.format)) {
    throw new UserError('UNSUPPORTED_FORMAT', `${label(input)} is ${meta.format ?? 'an unknown format'}; Umbra opens JPEG, PNG and WebP`)
  }
  const width = meta.width ?? 0
  const height = meta.height ?? 0
  if (width <= 0 || height <= 0) throw new UserError('NOT_AN_IMAGE', `${label(input)} has no pixels`)
  if (width * height > MAX_INPUT_PIXELS) {
    throw new UserError('TOO_LARGE', `${label(input)} has ${width}x${height} pixels, more than the ${MAX_INPUT_PIXELS / 1e6} MP limit`)
  }
  return { buf, meta, width, height }
}

/** A sharp pipeline for an input, with EXIF orientation applied and the pixel limit enforced. */
export async function openImage(input: string | Uint8Array): Promise<Sharp> {
  const { buf } = await readCheckedHeader(input)
  return sharp(buf, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' }).rotate()
}

export interface ImageInfo {
  format: ImageFormat
  /** Size after EXIF orientation. */
  width: number
  height: number
  hasAlpha: boolean
}

/**
 * Reads the header of an image: format, size after EXIF orientation, alpha. Cheap (no full
 * decode); use `makePreview` or a decode to find damage in the pixel data.
 */
export async function probeImage(input: string | Uint8Array): Promise<ImageInfo> {
  const { meta, width: w, height: h } = await readCheckedHeader(input)
  const swap = (meta.orientation ?? 1) >= 5
  return { format: meta.format as ImageFormat, width: swap ? h : w, height: swap ? w : h, hasAlpha: !!meta.hasAlpha }
}

export interface EncodedPreview {
  width: number
  height: number
  mime: 'image/jpeg' | 'image/png' | 'image/webp'
  bytes: Buffer
}

/**
 * A downscaled copy for the screen (longest side at most `maxSide`), EXIF orientation applied.
 * Decodes the whole image, so a damaged or truncated file fails here with a clear message.
 * JPEG for opaque images (fast), PNG for images with alpha (exact edges).
 */
export async function makePreview(input: string | Uint8Array, maxSide: number, withAlpha: boolean): Promise<EncodedPreview> {
  const pipeline = (await openImage(input)).resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
  try {
    const out = withAlpha
      ? await pipeline.ensureAlpha().png({ compressionLevel: 3 }).toBuffer({ resolveWithObject: true })
      : await pipeline.removeAlpha().jpeg({ quality: 88 }).toBuffer({ resolveWithObject: true })
    return { width: out.info.width, height: out.info.height, mime: withAlpha ? 'image/png' : 'image/jpeg', bytes: out.data }
  } catch (err) {
    throw new UserError('CORRUPT_IMAGE', `${label(input)} is damaged or truncated (${(err as Error).message})`)
  }
}

async function toRaw(pipeline: Sharp, input: string | Uint8Array): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await pipeline.raw().toBuffer({ resolveWithObject: true })
  } catch (err) {
    throw new UserError('CORRUPT_IMAGE', `${label(input)} is damaged or truncated (${(err as Error).message})`)
  }
}

/** Decodes to RGBA (alpha 255 where the file has none). */
export async function decodeRgba(input: string | Uint8Array): Promise<RawImage> {
  const { data, info } = await toRaw((await openImage(input)).ensureAlpha(), input)
  return { width: info.width, height: info.height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }
}

/** Decodes to RGB, dropping alpha (flattened on black is not wanted: alpha is just removed). */
export async function decodeRgb(input: string | Uint8Array): Promise<RawImage> {
  const { data, info } = await toRaw((await openImage(input)).removeAlpha().toColourspace('srgb'), input)
  return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }
}

/** Decodes a mask to one channel; any value above `threshold` counts as inside (255), else 0. */
export async function decodeMask(input: string | Uint8Array, threshold = 0): Promise<RawImage> {
  // Thresholded natively, per channel then OR-ed (a coloured mark counts; same result as greyscale
  // for grey masks): no JS pass over the pixels and no colour conversion, which cost ~70 ms on a
  // 12 MP mask (batch reads one per photo). CMYK and other non-RGB layouts are made grey first.
  const pipeline = (await openImage(input)).removeAlpha()
  const meta = await pipeline.metadata()
  const rgbLike = meta.space === undefined || meta.space === 'srgb' || meta.space === 'b-w' || meta.space === 'rgb' || meta.space === 'grey16' || meta.space === 'rgb16'
  const t = Math.max(0, Math.floor(threshold))
  if (t >= 255) {
    const info = await probeImage(input)
    return { width: info.width, height: info.height, channels: 1, data: new Uint8Array(info.width * info.height) }
  }
  const { data, info } = await toRaw((rgbLike ? pipeline : pipeline.greyscale()).threshold(t + 1, { greyscale: false }).bandbool('or').toColourspace('b-w'), input)
  if (info.channels !== 1) throw new UserError('CORRUPT_IMAGE', `${label(input)}: the mask could not be read as one channel`)
  return { width: info.width, height: info.height, channels: 1, data: new Uint8Array(data.buffer, data.byteOffset, data.length) }
}

/**
 * Resizes raw pixels (a region of them, if given) to width x height, keeping the channel count.
 * sharp hands a one-channel image back as three-channel sRGB unless told 'b-w', and code that
 * forgot read a third of a row per row: resize masks and maps through here.
 */
export async function resizeRawImage(
  img: RawImage,
  width: number,
  height: number,
  opts: { kernel?: 'nearest' | 'linear' | 'mitchell' | 'lanczos3'; region?: { left: number; top: number; width: number; height: number } } = {},
): Promise<RawImage> {
  if (!opts.region && img.width === width && img.height === height) return img
  let pipeline = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels } })
  if (opts.region) pipeline = pipeline.extract(opts.region)
  const buf = await pipeline
    .resize(width, height, { fit: 'fill', kernel: opts.kernel ?? 'linear' })
    .toColourspace(img.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer()
  if (buf.length !== width * height * img.channels) throw new Error(`resize returned ${buf.length} bytes for a ${width}x${height}x${img.channels} image`)
  return { width, height, channels: img.channels, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) }
}

export interface EncodeOptions {
  format: ImageFormat
  /** JPEG/WebP quality 1-100. */
  quality?: number
  /**
   * JPEG only: compute Huffman tables for this image (a second pass) instead of the standard ones.
   * The pixels are the same; the file is about 10% smaller, and a 12 MP encode takes about 3x as
   * long (here 180-235 ms against 60). Off by default, as in libjpeg itself.
   */
  optimiseCoding?: boolean
}

export async function encodeImage(img: RawImage, opts: EncodeOptions = { format: 'png' }): Promise<Buffer> {
  const s = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: img.channels },
  })
  if (opts.format === 'jpeg') return s.jpeg({ quality: opts.quality ?? 92, mozjpeg: false, optimiseCoding: opts.optimiseCoding ?? false }).toBuffer()
  if (opts.format === 'webp') return s.webp({ quality: opts.quality ?? 92 }).toBuffer()
  // Masks stay single-channel greyscale PNGs: without the explicit colourspace sharp widens 1-channel
  // raw input to sRGB on output.
  return (img.channels === 1 ? s.toColourspace('b-w') : s).png({ compressionLevel: 6 }).toBuffer()
}

/** Encodes and writes atomically (temp file + rename). Format from opts or the file extension. */
export async function writeImage(path: string, img: RawImage, opts?: Partial<EncodeOptions>): Promise<void> {
  const format = opts?.format ?? formatFromPath(path)
  await writeFileAtomic(path, await encodeImage(img, { format, quality: opts?.quality }))
}

export function formatFromPath(path: string): ImageFormat {
  const ext = path.toLowerCase().split('.').pop()
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg'
  if (ext === 'webp') return 'webp'
  if (ext === 'png') return 'png'
  throw new UserError('UNSUPPORTED_FORMAT', `cannot tell the output format of ${path}: use .png, .jpg or .webp`)
}
