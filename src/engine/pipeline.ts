/**
 * The photo-resolution pipeline: a photo of any size (up to 100 MP) + the inserted object's mask
 * -> the photo with the object's shadow, the shadow as an editable multiply layer, and the
 * attention maps.
 *
 * 1. Bounding box of the mask (any nonzero = object).
 * 2. Context window (contextWindow below): a square CONTEXT_SCALE x the object's larger side,
 *    centred on the object horizontally and shifted down (the object's centre sits at
 *    CENTRE_FROM_TOP of the window) because shadows fall on the ground around and below the object.
 *    Clamped to the photo: a window that does not fit is shifted inside, and if the photo is too
 *    small it becomes the largest rectangle that fits (then letterboxed into the square model input
 *    with edge pixels repeated, so nothing is stretched).
 * 3. The window is resized to the model size S (sharp, on the raw buffer: no re-decode) and run.
 * 4. The darkening d is upsampled back to the window size with a smooth (Mitchell) filter and
 *    applied as composite = photo * (1 - d), only inside the window and never on object pixels:
 *    every other byte of the photo is left exactly as it was.
 */
import sharp from 'sharp'
import type { RawImage } from '../core/image'
import { UserError } from '../core/errors'
import type { ShadowEngine } from './inference'

/** Window side as a multiple of the object's larger side: room for long shadows in every direction. */
export const CONTEXT_SCALE = 2.75
/** Where the object's centre sits in the window, from the top (0.5 = centred): more ground below. */
export const CENTRE_FROM_TOP = 0.45
/** Smallest window side in photo pixels (tiny objects still get some context). */
export const MIN_WINDOW = 48

export interface Rect {
  x: number
  y: number
  width: number
  height: number
}

/** The shadow as a "multiply layer" (engine contract item 4): alpha a = max_c d_c, colour c_k = 1 - d_k / a. */
export interface ShadowLayer extends Rect {
  /** RGBA, width x height, placed at (x, y) in photo pixels. Applying it: photo * (1 - a + a * c). */
  image: RawImage
}

export interface AttentionMaps {
  /** Model resolution S; maps are S x S, row-major, values in [0, 1]. */
  size: number
  /** Where the model input came from in the photo (the context window). */
  window: Rect
  /** The part of the S x S model input that holds the window (all of it unless letterboxed). */
  content: Rect
  occluders: Float32Array
  occluderShadows: Float32Array
}

export interface GenerateShadowOptions {
  contextScale?: number
  centreFromTop?: number
  /** Build the RGBA shadow layer (default true; batch turns it off when no layer file is wanted). */
  layer?: boolean
  /** Write the shadow into `image.data` itself instead of a copy (saves a 12 MP copy in batch). */
  inPlace?: boolean
}

export interface GenerateShadowResult {
  composite: RawImage
  layer: ShadowLayer | null
  attention: AttentionMaps
  objectBox: Rect
  window: Rect
  warnings: string[]
  /** Milliseconds per stage. */
  timings: { crop: number; infer: number; upsample: number; composite: number }
}

export interface ShadowInput {
  /** RGB (or RGBA: alpha kept as it is). */
  image: RawImage
  /** One channel, same size; nonzero = object. */
  mask: RawImage
}

/** Bounding box of the nonzero pixels, or null when there are none. Scans rows fast, columns only where needed. */
export function maskBoundingBox(mask: RawImage): Rect | null {
  const { width, height, data } = mask
  let top = -1
  let bottom = -1
  let left = width
  let right = -1
  for (let y = 0; y < height; y++) {
    const row = y * width
    let first = -1
    for (let x = 0; x < width; x++) {
      if (data[row + x] !== 0) {
        first = x
        break
      }
    }
    if (first < 0) continue
    if (top < 0) top = y
    bottom = y
    if (first < left) left = first
    for (let x = width - 1; x > right; x--) {
      if (data[row + x] !== 0) {
        right = x
        break
      }
    }
  }
  if (top < 0) return null
  return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

/**
 * The context window for an object box in a width x height photo (rule in the file comment).
 * Exported so that training crops can be framed the same way.
 */
export function contextWindow(box: Rect, width: number, height: number, contextScale = CONTEXT_SCALE, centreFromTop = CENTRE_FROM_TOP): Rect & { clamped: boolean } {
  const side = Math.max(MIN_WINDOW, Math.ceil(contextScale * Math.max(box.width, box.height)))
  const ww = Math.min(side, width)
  const wh = Math.min(side, height)
  const cx = box.x + box.width / 2
  const cy = box.y + box.height / 2
  // Keep the object inside the window first, then the window inside the photo.
  let x = Math.round(cx - ww / 2)
  x = clamp(x, box.x + box.width - ww, box.x)
  x = clamp(x, 0, width - ww)
  let y = Math.round(cy - centreFromTop * wh)
  y = clamp(y, box.y + box.height - wh, box.y)
  y = clamp(y, 0, height - wh)
  return { x, y, width: ww, height: wh, clamped: ww < side || wh < side }
}

function asBuffer(a: Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

function checkInput({ image, mask }: ShadowInput): void {
  if (image.channels !== 3 && image.channels !== 4) {
    throw new UserError('BAD_IMAGE', `the photo must be RGB or RGBA, got ${image.channels} channel(s)`)
  }
  if (image.data.length !== image.width * image.height * image.channels) throw new UserError('BAD_IMAGE', 'the photo buffer does not match its size')
  if (mask.channels !== 1 || mask.data.length !== mask.width * mask.height) {
    throw new UserError('BAD_MASK', `the mask must be a one-channel image, got ${mask.channels} channel(s)`)
  }
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new UserError('MASK_SIZE', `the mask is ${mask.width}x${mask.height} but the photo is ${image.width}x${image.height}: they must be the same size`)
  }
}

/** Runs the engine on one photo + object mask at full resolution. */
export async function generateShadow(engine: ShadowEngine, input: ShadowInput, options: GenerateShadowOptions = {}): Promise<GenerateShadowResult> {
  checkInput(input)
  const { image, mask } = input
  const S = engine.size
  const warnings: string[] = []
  const t0 = performance.now()

  const box = maskBoundingBox(mask)
  if (!box) throw new UserError('MASK_EMPTY', 'the mask is empty: no pixel marks the object')
  if (box.width === image.width && box.height === image.height) {
    let full = true
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] === 0) {
        full = false
        break
      }
    }
    if (full) throw new UserError('MASK_FULL', 'the mask covers the whole photo: there is no background for a shadow to fall on')
  }
  if (box.x === 0 || box.y === 0 || box.x + box.width === image.width || box.y + box.height === image.height) {
    warnings.push('the object touches the photo border: the shadow of any part outside the photo cannot be generated')
  }
  const win = contextWindow(box, image.width, image.height, options.contextScale, options.centreFromTop)
  if (win.clamped) {
    warnings.push(`the photo leaves less room around the object than the model expects (window ${win.width}x${win.height} px)`)
  }
  const window: Rect = { x: win.x, y: win.y, width: win.width, height: win.height }

  // Letterbox a non-square window into the square model input (no stretching).
  const scale = S / Math.max(window.width, window.height)
  const content: Rect = { x: 0, y: 0, width: Math.max(1, Math.round(window.width * scale)), height: Math.max(1, Math.round(window.height * scale)) }
  content.x = Math.floor((S - content.width) / 2)
  content.y = Math.floor((S - content.height) / 2)
  const extend = { top: content.y, bottom: S - content.height - content.y, left: content.x, right: S - content.width - content.x, extendWith: 'copy' as const }
  const region = { left: window.x, top: window.y, width: window.width, height: window.height }
  const [rgbSmall, maskSmall] = await Promise.all([
    sharp(asBuffer(image.data), { raw: { width: image.width, height: image.height, channels: image.channels } })
      .extract(region)
      .resize(content.width, content.height, { fit: 'fill', kernel: 'lanczos3' })
      .extend(extend)
      .removeAlpha()
      .raw()
      .toBuffer(),
    sharp(asBuffer(mask.data), { raw: { width: mask.width, height: mask.height, channels: 1 } })
      .extract(region)
      .resize(content.width, content.height, { fit: 'fill', kernel: 'linear' })
      .extend(extend)
      .raw()
      .toBuffer(),
  ])
  const batch = new Float32Array(S * S * 4)
  const maskStep = maskSmall.length / (S * S)
  for (let i = 0, j = 0; i < S * S; i++, j += 3) {
    batch[i * 4] = rgbSmall[j] / 255
    batch[i * 4 + 1] = rgbSmall[j + 1] / 255
    batch[i * 4 + 2] = rgbSmall[j + 2] / 255
    // Area coverage >= 50% counts as object, as in the {0,1} training masks.
    batch[i * 4 + 3] = maskSmall[i * maskStep] >= 128 ? 1 : 0
  }
  const t1 = performance.now()

  const { attention, darkening } = await engine.infer(batch, 1)
  const t2 = performance.now()

  // Darkening of the window's part of the model output, as 8-bit, upsampled to the window size.
  const dSmall = Buffer.alloc(content.width * content.height * 3)
  for (let y = 0; y < content.height; y++) {
    for (let x = 0; x < content.width; x++) {
      const src = ((y + content.y) * S + (x + content.x)) * 3
      const dst = (y * content.width + x) * 3
      for (let k = 0; k < 3; k++) {
        const v = darkening[src + k]
        dSmall[dst + k] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255)
      }
    }
  }
  const dFull =
    content.width === window.width && content.height === window.height
      ? dSmall
      : await sharp(dSmall, { raw: { width: content.width, height: content.height, channels: 3 } })
          .resize(window.width, window.height, { fit: 'fill', kernel: 'mitchell' })
          .raw()
          .toBuffer()
  const t3 = performance.now()

  const composite: RawImage = options.inPlace ? image : { ...image, data: new Uint8Array(image.data) }
  const out = composite.data
  const channels = image.channels
  const wantLayer = options.layer !== false
  const layerData = wantLayer ? new Uint8Array(window.width * window.height * 4) : null
  const maskData = mask.data
  for (let wy = 0; wy < window.height; wy++) {
    const rowStart = (window.y + wy) * image.width + window.x
    for (let wx = 0; wx < window.width; wx++) {
      const p = rowStart + wx
      const di = (wy * window.width + wx) * 3
      if (maskData[p] !== 0) {
        // The object keeps its pixels; its layer pixel stays transparent white.
        if (layerData) {
          const li = (wy * window.width + wx) * 4
          layerData[li] = 255
          layerData[li + 1] = 255
          layerData[li + 2] = 255
        }
        continue
      }
      const d0 = dFull[di]
      const d1 = dFull[di + 1]
      const d2 = dFull[di + 2]
      if ((d0 | d1 | d2) !== 0) {
        const o = p * channels
        // round(v * (255 - d) / 255) in integers: t + (t >> 8) >> 8 divides by 255 exactly after the +128.
        let t = out[o] * (255 - d0) + 128
        out[o] = (t + (t >> 8)) >> 8
        t = out[o + 1] * (255 - d1) + 128
        out[o + 1] = (t + (t >> 8)) >> 8
        t = out[o + 2] * (255 - d2) + 128
        out[o + 2] = (t + (t >> 8)) >> 8
      }
      if (layerData) {
        const li = (wy * window.width + wx) * 4
        const a = d0 > d1 ? (d0 > d2 ? d0 : d2) : d1 > d2 ? d1 : d2
        if (a === 0) {
          layerData[li] = 255
          layerData[li + 1] = 255
          layerData[li + 2] = 255
        } else {
          layerData[li] = Math.round((255 * (a - d0)) / a)
          layerData[li + 1] = Math.round((255 * (a - d1)) / a)
          layerData[li + 2] = Math.round((255 * (a - d2)) / a)
          layerData[li + 3] = a
        }
      }
    }
  }
  const t4 = performance.now()

  const occluders = new Float32Array(S * S)
  const occluderShadows = new Float32Array(S * S)
  for (let i = 0; i < S * S; i++) {
    occluders[i] = attention[i * 2]
    occluderShadows[i] = attention[i * 2 + 1]
  }
  return {
    composite,
    layer: layerData ? { ...window, image: { width: window.width, height: window.height, channels: 4, data: layerData } } : null,
    attention: { size: S, window, content, occluders, occluderShadows },
    objectBox: box,
    window,
    warnings,
    timings: { crop: t1 - t0, infer: t2 - t1, upsample: t3 - t2, composite: t4 - t3 },
  }
}

/** Renders the attention maps as two full-photo greyscale images (0 outside the window). */
export async function renderAttentionMaps(attention: AttentionMaps, width: number, height: number): Promise<{ occluders: RawImage; occluderShadows: RawImage }> {
  const { size, window, content } = attention
  const render = async (map: Float32Array): Promise<RawImage> => {
    const small = Buffer.alloc(content.width * content.height)
    for (let y = 0; y < content.height; y++) {
      for (let x = 0; x < content.width; x++) {
        const v = map[(y + content.y) * size + (x + content.x)]
        small[y * content.width + x] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255)
      }
    }
    const windowed = await sharp(small, { raw: { width: content.width, height: content.height, channels: 1 } })
      .resize(window.width, window.height, { fit: 'fill', kernel: 'mitchell' })
      .raw()
      .toBuffer()
    const full = new Uint8Array(width * height)
    for (let y = 0; y < window.height; y++) {
      full.set(windowed.subarray(y * window.width, (y + 1) * window.width), (window.y + y) * width + window.x)
    }
    return { width, height, channels: 1, data: full }
  }
  return { occluders: await render(attention.occluders), occluderShadows: await render(attention.occluderShadows) }
}

/**
 * Places a cut-out (RGBA) on a background photo at (x, y) (its top-left, photo pixels), scaled by
 * `scale`, blending by alpha; the object mask is where the cut-out's alpha is at least half (the
 * faint fringe counts as background, so it can receive shadow). Parts outside the photo are clipped.
 */
export async function placeCutout(background: RawImage, cutout: RawImage, at: { x: number; y: number; scale?: number }): Promise<ShadowInput> {
  if (cutout.channels !== 4) throw new UserError('BAD_CUTOUT', 'the cut-out must have an alpha channel (RGBA PNG or WebP)')
  if (background.channels !== 3 && background.channels !== 4) throw new UserError('BAD_IMAGE', 'the background must be RGB or RGBA')
  const scale = at.scale ?? 1
  if (!(scale > 0) || !Number.isFinite(scale)) throw new UserError('BAD_ARGS', `the scale must be a positive number, got ${scale}`)
  let obj = cutout
  const w = Math.max(1, Math.round(cutout.width * scale))
  const h = Math.max(1, Math.round(cutout.height * scale))
  if (w * h > 100_000_000) throw new UserError('TOO_LARGE', `the scaled cut-out would be ${w}x${h} pixels`)
  if (w !== cutout.width || h !== cutout.height) {
    const data = await sharp(asBuffer(cutout.data), { raw: { width: cutout.width, height: cutout.height, channels: 4 } })
      .resize(w, h, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer()
    obj = { width: w, height: h, channels: 4, data }
  }
  const x0 = Math.round(at.x)
  const y0 = Math.round(at.y)
  const left = Math.max(0, x0)
  const top = Math.max(0, y0)
  const right = Math.min(background.width, x0 + w)
  const bottom = Math.min(background.height, y0 + h)
  if (right <= left || bottom <= top) {
    throw new UserError('CUTOUT_OUTSIDE', `the cut-out (${w}x${h} at ${x0},${y0}) lies entirely outside the ${background.width}x${background.height} photo`)
  }
  const c = background.channels
  const image: RawImage = { ...background, data: new Uint8Array(background.data) }
  const mask: RawImage = { width: background.width, height: background.height, channels: 1, data: new Uint8Array(background.width * background.height) }
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const s = ((y - y0) * w + (x - x0)) * 4
      const a = obj.data[s + 3]
      if (a === 0) continue
      const p = y * background.width + x
      const o = p * c
      for (let k = 0; k < 3; k++) image.data[o + k] = Math.round((obj.data[s + k] * a + image.data[o + k] * (255 - a)) / 255)
      if (a >= 128) mask.data[p] = 255
    }
  }
  return { image, mask }
}
