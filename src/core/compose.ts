import sharp from 'sharp'
import type { Composition, Layer } from '../shared/project'
import { compositionProblems } from '../shared/project'
import { UserError } from './errors'
import { MAX_INPUT_PIXELS, openImage } from './image'
import { editedShadowPixels } from './shadow-render'

/**
 * Renders a composition from the ORIGINAL images at the photo's original size. Nothing here
 * knows about the screen: the same composition gives the same pixels at any zoom.
 *
 * Layer placement follows src/shared/project.ts: flip, scale, then rotate clockwise about the
 * centre, centre at (x, y) in photo pixels (Fabric's model with origin 'center').
 */
export interface AssetBytes {
  (id: string): Uint8Array
}

export interface RenderOptions {
  format: 'png' | 'jpeg' | 'raw'
  quality?: number
}

export interface Overlay {
  input: Buffer
  raw: { width: number; height: number; channels: 4 }
  left: number
  top: number
  blend: 'over' | 'multiply'
}

export interface RenderedImage {
  data: Buffer
  width: number
  height: number
  /** 4 for raw RGBA output. */
  channels: number
}

export async function renderComposition(c: Composition, bytesOf: AssetBytes, opts: RenderOptions): Promise<RenderedImage> {
  const problems = compositionProblems(c)
  if (problems.length) throw new UserError('BAD_COMPOSITION', `cannot export: ${problems.join('; ')}`)
  if (c.width * c.height > MAX_INPUT_PIXELS) throw new UserError('TOO_LARGE', `the canvas is ${c.width}x${c.height}, over the pixel limit`)

  const photo = c.layers.find((l) => l.kind === 'photo')
  let base: Buffer
  if (photo && photo.visible) {
    const img = await decodeRgba(bytesOf(photo.assetId), photo.name)
    if (img.width !== c.width || img.height !== c.height) {
      throw new UserError('BAD_COMPOSITION', `the photo is ${img.width}x${img.height} but the composition says ${c.width}x${c.height}`)
    }
    if (photo.opacity < 1) scaleAlpha(img.data, photo.opacity)
    base = img.data
  } else {
    base = Buffer.alloc(c.width * c.height * 4) // transparent
  }

  const overlays: Overlay[] = []
  for (const layer of c.layers) {
    if (layer.kind === 'photo' || !layer.visible || layer.opacity <= 0) continue
    const o = await placeLayer(layer, bytesOf, c.width, c.height)
    if (o) overlays.push(o)
  }

  let pipeline = sharp(base, { raw: { width: c.width, height: c.height, channels: 4 }, limitInputPixels: MAX_INPUT_PIXELS })
  if (overlays.length) {
    // composite() takes its inputs as raw RGBA; flatten to one buffer first so later steps see the result.
    const composed = await pipeline.composite(overlays.map((o) => ({ input: o.input, raw: o.raw, left: o.left, top: o.top, blend: o.blend }))).raw().toBuffer()
    pipeline = sharp(composed, { raw: { width: c.width, height: c.height, channels: 4 }, limitInputPixels: MAX_INPUT_PIXELS })
  }
  if (opts.format === 'raw') {
    const data = await pipeline.raw().toBuffer()
    return { data, width: c.width, height: c.height, channels: 4 }
  }
  if (opts.format === 'jpeg') {
    const q = opts.quality ?? 92
    const data = await pipeline
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: q, chromaSubsampling: q >= 90 ? '4:4:4' : '4:2:0' })
      .toBuffer()
    return { data, width: c.width, height: c.height, channels: 3 }
  }
  const opaque = !!photo && photo.visible && photo.opacity >= 1
  const data = await (opaque ? pipeline.removeAlpha() : pipeline).png({ compressionLevel: 6 }).toBuffer()
  return { data, width: c.width, height: c.height, channels: opaque ? 3 : 4 }
}

async function decodeRgba(bytes: Uint8Array, name: string): Promise<{ data: Buffer; width: number; height: number }> {
  const pipeline = await openImage(bytes)
  try {
    const { data, info } = await pipeline.ensureAlpha().raw().toBuffer({ resolveWithObject: true })
    return { data, width: info.width, height: info.height }
  } catch (err) {
    throw new UserError('CORRUPT_IMAGE', `${name} is damaged or truncated (${(err as Error).message})`)
  }
}

function scaleAlpha(rgba: Buffer, opacity: number): void {
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = Math.round(rgba[i] * opacity)
}

/** The layer's pixels transformed into photo space, clipped to the canvas (null when fully outside). */
export async function placeLayer(layer: Exclude<Layer, { kind: 'photo' }>, bytesOf: AssetBytes, cw: number, ch: number): Promise<Overlay | null> {
  const t = layer.transform
  // A shadow layer's image comes with the user's edits (softness, density, tint, brush, skew) applied.
  const src = layer.kind === 'shadow' ? await editedShadowPixels(layer, bytesOf) : await decodeRgba(bytesOf(layer.assetId), layer.name)
  const w = Math.max(1, Math.round(src.width * t.scaleX))
  const h = Math.max(1, Math.round(src.height * t.scaleY))
  if (w * h > MAX_INPUT_PIXELS) throw new UserError('TOO_LARGE', `layer '${layer.name}' is scaled to ${w}x${h}, over the pixel limit`)

  // 1. flip, 2. scale (alpha premultiplied by sharp during resize, so edges stay clean)
  let step = sharp(src.data, { raw: { width: src.width, height: src.height, channels: 4 } })
  if (t.flipX) step = step.flop()
  if (t.flipY) step = step.flip()
  const scaled = await step.resize(w, h, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer({ resolveWithObject: true })
  let data = scaled.data
  let width = scaled.info.width
  let height = scaled.info.height

  // 3. rotate clockwise about the centre; the output grows to the rotated bounding box, centred.
  const angle = ((t.angle % 360) + 360) % 360
  if (angle > 1e-6) {
    const rotated = await sharp(data, { raw: { width, height, channels: 4 } })
      .rotate(angle, { background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .raw()
      .toBuffer({ resolveWithObject: true })
    data = rotated.data
    width = rotated.info.width
    height = rotated.info.height
  }
  if (layer.opacity < 1) scaleAlpha(data, layer.opacity)

  // 4. centre at (x, y), clipped to the canvas.
  const left = Math.round(t.x - width / 2)
  const top = Math.round(t.y - height / 2)
  const x0 = Math.max(0, left)
  const y0 = Math.max(0, top)
  const x1 = Math.min(cw, left + width)
  const y1 = Math.min(ch, top + height)
  if (x1 <= x0 || y1 <= y0) return null
  if (x0 !== left || y0 !== top || x1 !== left + width || y1 !== top + height) {
    data = await sharp(data, { raw: { width, height, channels: 4 } })
      .extract({ left: x0 - left, top: y0 - top, width: x1 - x0, height: y1 - y0 })
      .raw()
      .toBuffer()
    width = x1 - x0
    height = y1 - y0
  }
  const blend = layer.kind === 'shadow' && layer.blend === 'multiply' ? 'multiply' : 'over'
  if (blend === 'multiply') opaqueMultiplier(data)
  return { input: data, raw: { width, height, channels: 4 }, left: x0, top: y0, blend }
}

/**
 * libvips' multiply blend is only right for opaque sources (with alpha a it gives
 * base * (1 - a + a^2 c), not the canvas's base * (1 - a + a c)). So a multiply layer is turned into
 * the opaque multiplier m = 1 - a + a c (white where it is transparent), which every multiply
 * gets right: export then matches what the editor's canvas shows.
 */
function opaqueMultiplier(rgba: Buffer): void {
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3]
    if (a === 255) continue
    // 255 * (1 - a + a c) with a, c in 0-255: 255 - a + a * c / 255
    rgba[i] = 255 - a + Math.round((a * rgba[i]) / 255)
    rgba[i + 1] = 255 - a + Math.round((a * rgba[i + 1]) / 255)
    rgba[i + 2] = 255 - a + Math.round((a * rgba[i + 2]) / 255)
    rgba[i + 3] = 255
  }
}
