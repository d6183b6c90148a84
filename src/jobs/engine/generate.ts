/**
 * Shadow generation for the editor, inside the engine worker: the photo with the scene's other
 * cut-outs drawn in, the chosen object placed at full resolution, the engine's pipeline
 * (generateShadow) run on it, and the result packed for the editor: the shadow as an RGBA
 * multiply layer cropped to where it is (PNG, at most maxLayerSide: the model's detail is far below
 * that, so the editor and export lose nothing), the attention maps, and the geometry the light
 * control needs (contact point, cast direction and length).
 */
import sharp from 'sharp'
import { UserError } from '../../core/errors'
import { openImage, resizeRawImage, type RawImage } from '../../core/image'
import { placeLayer } from '../../core/compose'
import type { ShadowEngine } from '../../engine/inference'
import { contextWindow, generateShadow, lightOriginOf, maskBoundingBox, type Rect } from '../../engine/pipeline'
import type { ShadowBlock } from '../../engine/shadow-block'
import type { EngineInfo, EngineProgress, GeneratePayload, GenerateResult } from '../../shared/engine-protocol'
import type { ObjectLayer } from '../../shared/project'
import { darkeningToLayer, NEUTRAL_EDITS, toDarkening } from '../../shared/shadow'

type Payload = Omit<GeneratePayload, 'maxLayerSide' | 'scene'> & { maxLayerSide: number; scene: NonNullable<GeneratePayload['scene']> }

/** Decoded photos by content id: the editor regenerates on the same photo again and again. */
const photoCache = new Map<string, RawImage>()

async function decodePhoto(ref: { id: string; bytes: Uint8Array }): Promise<RawImage> {
  const hit = photoCache.get(ref.id)
  if (hit) return hit
  const { data, info } = await (await openImage(ref.bytes)).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const img: RawImage = { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
  photoCache.clear() // one photo at a time: a 50 MP photo is 150 MB decoded
  photoCache.set(ref.id, img)
  return img
}

function objectLayer(id: string, transform: ObjectLayer['transform'], opacity = 1): ObjectLayer {
  return { kind: 'object', id, name: id, assetId: id, visible: true, locked: false, opacity, transform }
}

export interface GenerateDeps {
  engine: ShadowEngine
  info: EngineInfo
  /** Opens (once) the shadow block that takes given attention maps. */
  shadowBlock(): Promise<ShadowBlock>
  progress(p: EngineProgress): void
  signal: AbortSignal
}

export async function generateForEditor(payload: Payload, deps: GenerateDeps): Promise<GenerateResult> {
  const t0 = performance.now()
  const { signal } = deps
  deps.progress({ stage: 'decode', fraction: 0.05, message: 'Reading the photo' })
  const photo = await decodePhoto(payload.photo)
  signal.throwIfAborted()
  const { width, height } = photo
  const image = new Uint8Array(photo.data)
  const bytesById = new Map<string, Uint8Array>()
  const bytesOf = (id: string) => bytesById.get(id) as Uint8Array

  // Other cut-outs first (they are part of the scene the model looks at), then the object.
  const blend = (o: { input: Buffer; raw: { width: number; height: number }; left: number; top: number }, mask: Uint8Array | null) => {
    const { width: w, height: h } = o.raw
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = (y * w + x) * 4
        const a = o.input[s + 3]
        if (a === 0) continue
        const p = (o.top + y) * width + o.left + x
        const q = p * 3
        image[q] = (o.input[s] * a + image[q] * (255 - a) + 127) / 255
        image[q + 1] = (o.input[s + 1] * a + image[q + 1] * (255 - a) + 127) / 255
        image[q + 2] = (o.input[s + 2] * a + image[q + 2] * (255 - a) + 127) / 255
        if (mask && a >= 128) mask[p] = 255
      }
    }
  }
  for (const [i, s] of payload.scene.entries()) {
    bytesById.set(`scene${i}`, s.image.bytes)
    const o = await placeLayer(objectLayer(`scene${i}`, s.transform, s.opacity), bytesOf, width, height)
    if (o) blend(o, null)
  }
  bytesById.set('object', payload.object.image.bytes)
  const placed = await placeLayer(objectLayer('object', payload.object.transform), bytesOf, width, height)
  if (!placed) throw new UserError('OBJECT_OUTSIDE', 'the object lies outside the photo: move it onto the photo to generate its shadow')
  const mask = new Uint8Array(width * height)
  blend(placed, mask)
  const box = maskBoundingBox({ width, height, channels: 1, data: mask })
  if (!box) throw new UserError('MASK_EMPTY', 'the object has no opaque pixels inside the photo')
  signal.throwIfAborted()
  const t1 = performance.now()

  deps.progress({ stage: 'infer', fraction: 0.3, message: `Running the model (${deps.info.backend})` })
  let engine: ShadowEngine = deps.engine
  if (payload.attention) {
    // Corrected maps: the shadow block runs on them (the engine's own prediction fills what they do not cover).
    const given = await attentionInModelSpace(payload.attention, box, width, height, deps.engine.size)
    const block = await deps.shadowBlock()
    engine = {
      ...deps.engine,
      async infer(batch, n, outputs) {
        const own = await deps.engine.infer(batch, n, outputs)
        const attention = new Float32Array(own.attention)
        for (let i = 0; i < given.cover.length; i++) {
          if (given.cover[i]) {
            attention[i * 2] = given.maps[i * 2]
            attention[i * 2 + 1] = given.maps[i * 2 + 1]
          }
        }
        return { ...own, attention }
      },
      // The pipeline shades with the merged maps (turned into the cast frame when the model works there).
      shade: (batch, attention, n) => block.run(batch, attention, n),
    }
  }
  // The layer comes at most maxLayerSide wide (the pipeline renders it small directly: the shadow
  // is smooth, the model's detail is far below that).
  const result = await generateShadow(
    engine,
    { image: { width, height, channels: 3, data: image }, mask: { width, height, channels: 1, data: mask } },
    { inPlace: true, layer: true, layerMaxSide: payload.maxLayerSide, applyToImage: false, signal, castAngle: payload.castAngle, lightFromAttention: !!payload.attention },
  )
  const t2 = performance.now()
  deps.progress({ stage: 'pack', fraction: 0.8, message: 'Preparing the shadow layer' })
  const layer = result.layer
  if (!layer) throw new Error('the pipeline returned no shadow layer')
  const iw = layer.image.width
  const ih = layer.image.height
  const sx = layer.width / iw
  const sy = layer.height / ih

  // Crop the layer to where the shadow is (plus a margin), in the layer image's pixels.
  const centre = maskCentroid(mask, width, box)
  const contact = contactPoint(mask, width, box, centre)
  const alphaBox = alphaBounds(layer.image.data, iw, ih)
  const empty = !alphaBox
  const margin = Math.round(0.02 * Math.max(iw, ih))
  const crop: Rect = alphaBox
    ? {
        x: Math.max(0, alphaBox.x - margin),
        y: Math.max(0, alphaBox.y - margin),
        width: Math.min(iw, alphaBox.x + alphaBox.width + margin) - Math.max(0, alphaBox.x - margin),
        height: Math.min(ih, alphaBox.y + alphaBox.height + margin) - Math.max(0, alphaBox.y - margin),
      }
    : // No shadow: a small empty layer at the contact point (regenerating or steering starts from there).
      {
        x: Math.min(Math.max(0, Math.round((contact.x - layer.x) / sx) - 4), Math.max(0, iw - 8)),
        y: Math.min(Math.max(0, Math.round((contact.y - layer.y) / sy) - 4), Math.max(0, ih - 8)),
        width: Math.min(8, iw),
        height: Math.min(8, ih),
      }
  const k = Math.min(1, payload.maxLayerSide / Math.max(crop.width, crop.height))
  const outW = Math.max(1, Math.round(crop.width * k))
  const outH = Math.max(1, Math.round(crop.height * k))
  let pipeline = sharp(Buffer.from(layer.image.data.buffer, layer.image.data.byteOffset, layer.image.data.byteLength), { raw: { width: iw, height: ih, channels: 4 } }).extract({ left: crop.x, top: crop.y, width: crop.width, height: crop.height })
  if (outW !== crop.width || outH !== crop.height) pipeline = pipeline.resize(outW, outH, { fit: 'fill', kernel: 'lanczos3' })
  const small = await pipeline.raw().toBuffer()
  const rect = { x: layer.x + crop.x * sx, y: layer.y + crop.y * sy, width: crop.width * sx, height: crop.height * sy }
  // Geometry for the light control (read before the fill below, which follows it).
  const cast = castOf(small, outW, outH, rect, contact, centre, box)
  await fillUnderObject(small, outW, outH, mask, width, height, rect, cast.angle === null ? null : { contact, angle: cast.angle })
  const layerPng = await sharp(small, { raw: { width: outW, height: outH, channels: 4 } }).png({ compressionLevel: 2 }).toBuffer()

  // Attention maps as RGB over the context window.
  const att = result.attention
  const cw = att.content.width
  const chh = att.content.height
  const attRgb = Buffer.alloc(cw * chh * 3)
  for (let y = 0; y < chh; y++) {
    for (let x = 0; x < cw; x++) {
      const s = (y + att.content.y) * att.size + x + att.content.x
      const o = (y * cw + x) * 3
      attRgb[o] = Math.round(Math.min(1, Math.max(0, att.occluders[s])) * 255)
      attRgb[o + 1] = Math.round(Math.min(1, Math.max(0, att.occluderShadows[s])) * 255)
    }
  }
  const attentionPng = await sharp(attRgb, { raw: { width: cw, height: chh, channels: 3 } }).png({ compressionLevel: 2 }).toBuffer()
  const t3 = performance.now()
  deps.progress({ stage: 'done', fraction: 1 })
  return {
    layerPng: new Uint8Array(layerPng.buffer, layerPng.byteOffset, layerPng.byteLength),
    layerWidth: outW,
    layerHeight: outH,
    rect,
    attentionPng: new Uint8Array(attentionPng.buffer, attentionPng.byteOffset, attentionPng.byteLength),
    attentionRect: att.window,
    contact,
    castAngle: cast.angle,
    castLength: cast.length,
    lightOrigin: lightOriginOf(result.cast),
    empty,
    warnings: result.warnings,
    engine: deps.info,
    timings: { place: t1 - t0, ...result.timings, pipeline: t2 - t1, pack: t3 - t2, total: t3 - t0 },
  }
}

/**
 * Photo-pixel offsets from `origin` of the centres of a layer's pixel columns (or rows): the layer
 * spans `length` photo pixels from `start` in `count` pixels. Per axis, so the pixel loops that
 * project layer pixels onto a direction read two small tables instead of repeating the mapping.
 */
function layerOffsets(start: number, length: number, count: number, origin: number): Float64Array {
  const step = length / count
  return Float64Array.from({ length: count }, (_, k) => start + (k + 0.5) * step - origin)
}

/**
 * The pipeline leaves the shadow empty under the object (the object covers it). Once the user
 * moves, skews or steers the shadow, that hole would show as a gap, so the part of it where the
 * shadow goes on behind the object is filled from the shadow around it (normalised convolution:
 * blur(d * w) / blur(w), w = 0 on the object).
 *
 * Only object pixels on the cast side of the contact point are filled: a shadow starts at the
 * contact and runs along the cast, so nothing of it lies behind the rest of the object. (Filling
 * the whole silhouette put an object-shaped shadow above the contact, which a steered shadow,
 * skewed about the contact, then swung to the wrong side.) Without a cast direction (a shadow all
 * around the base) only the rim that a short blur reaches is filled.
 */
export async function fillUnderObject(rgba: Buffer, w: number, h: number, mask: Uint8Array, maskWidth: number, maskHeight: number, rect: Rect, cast: { contact: { x: number; y: number }; angle: number } | null): Promise<void> {
  const left = Math.max(0, Math.min(maskWidth - 1, Math.round(rect.x)))
  const top = Math.max(0, Math.min(maskHeight - 1, Math.round(rect.y)))
  const region = { left, top, width: Math.max(1, Math.min(maskWidth - left, Math.round(rect.width))), height: Math.max(1, Math.min(maskHeight - top, Math.round(rect.height))) }
  const objectSmall = (await resizeRawImage({ width: maskWidth, height: maskHeight, channels: 1, data: mask }, w, h, { kernel: 'nearest', region })).data
  const pixels = w * h
  // Which object pixels to fill (1), in the layer's pixels.
  const fill = new Uint8Array(pixels)
  const ux = cast ? Math.cos((cast.angle * Math.PI) / 180) : 0
  const uy = cast ? Math.sin((cast.angle * Math.PI) / 180) : 0
  const ox = cast ? layerOffsets(rect.x, rect.width, w, cast.contact.x) : null
  const oy = cast ? layerOffsets(rect.y, rect.height, h, cast.contact.y) : null
  let pending = 0
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x
      if (!objectSmall[i]) continue
      if (ox && oy && ox[x] * ux + oy[y] * uy <= 0) continue
      fill[i] = 1
      pending++
    }
  }
  if (pending === 0) return
  const d = toDarkening(rgba, pixels)
  // 4 channels: d * w (3) and w, blurred together.
  const dw = Buffer.alloc(pixels * 4)
  for (let i = 0; i < pixels; i++) {
    if (objectSmall[i]) continue
    dw[i * 4] = d[i * 3]
    dw[i * 4 + 1] = d[i * 3 + 1]
    dw[i * 4 + 2] = d[i * 3 + 2]
    dw[i * 4 + 3] = 255
  }
  // Premultiplied blur: sharp treats the 4th channel as alpha and premultiplies, which is exactly
  // blur(d*w)/blur(w). A blur narrow enough to keep the shadow's shape near the object's edge does
  // not reach the middle of a large object, so what it leaves is filled by ever wider ones.
  const widest = Math.max(w, h)
  for (let sigma = Math.max(1, 0.04 * widest); pending > 0; sigma *= 2) {
    const last = sigma >= widest || !cast
    const blurred = await sharp(dw, { raw: { width: w, height: h, channels: 4 } }).blur(sigma).raw().toBuffer()
    for (let i = 0; i < pixels; i++) {
      if (!fill[i]) continue
      // Under a quarter of full weight the 8-bit premultiplied colour is coarse; a wider blur does better.
      const weight = blurred[i * 4 + 3]
      if (weight === 0 || (weight < 64 && !last)) continue
      d[i * 3] = blurred[i * 4]
      d[i * 3 + 1] = blurred[i * 4 + 1]
      d[i * 3 + 2] = blurred[i * 4 + 2]
      fill[i] = 0
      pending--
    }
    if (last) break
  }
  darkeningToLayer(d, pixels, NEUTRAL_EDITS, null, rgba)
}

function alphaBounds(rgba: Uint8Array, w: number, h: number): Rect | null {
  let x0 = w
  let x1 = -1
  let y0 = -1
  let y1 = -1
  for (let y = 0; y < h; y++) {
    const row = y * w * 4
    for (let x = 0; x < w; x++) {
      if (rgba[row + x * 4 + 3] > 2) {
        if (y0 < 0) y0 = y
        y1 = y
        if (x < x0) x0 = x
        if (x > x1) x1 = x
      }
    }
  }
  return y0 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }
}

/**
 * Where the object stands: under its centre of mass, at the lowest object pixel of the columns
 * there (a standing object: its feet; a lying one: the middle of its underside). Light steering
 * turns the shadow about this point.
 */
export function contactPoint(mask: Uint8Array, width: number, box: Rect, centre: { x: number; y: number }): { x: number; y: number } {
  const half = Math.max(1, Math.round(box.width * 0.03))
  const x0 = Math.max(box.x, Math.round(centre.x) - half)
  const x1 = Math.min(box.x + box.width - 1, Math.round(centre.x) + half)
  for (let y = box.y + box.height - 1; y >= box.y; y--) {
    for (let x = x0; x <= x1; x++) if (mask[y * width + x]) return { x: centre.x, y: y + 1 }
  }
  return { x: centre.x, y: box.y + box.height }
}

export function maskCentroid(mask: Uint8Array, width: number, box: Rect): { x: number; y: number } {
  let sx = 0
  let sy = 0
  let n = 0
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      if (mask[y * width + x]) {
        sx += x
        sy += y
        n++
      }
    }
  }
  return n ? { x: sx / n, y: sy / n } : { x: box.x + box.width / 2, y: box.y + box.height / 2 }
}

/**
 * The cast shadow's direction and length from the contact point: the darkness-weighted centroid of
 * the shadow gives the direction (none when it sits on the contact point: a shadow straight under
 * the object has nothing to steer), and the length is how far the shadow reaches along it
 * (95th percentile of the darkness-weighted projection).
 */
export function castOf(rgba: Uint8Array, w: number, h: number, rect: Rect, contact: { x: number; y: number }, centre: { x: number; y: number }, box: Rect): { angle: number | null; length: number } {
  const ox = layerOffsets(rect.x, rect.width, w, contact.x)
  const oy = layerOffsets(rect.y, rect.height, h, contact.y)
  let sw = 0
  let mx = 0
  let my = 0
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = rgba[(y * w + x) * 4 + 3]
      if (a < 8) continue
      sw += a
      mx += a * ox[x]
      my += a * oy[y]
    }
  }
  if (sw === 0) return { angle: null, length: 0 }
  // Direction: from the object's own centre to the shadow's (a shadow that overlaps the object's
  // box, as a lying object's does, still gives its offset); length: measured from the contact point.
  mx = mx / sw + contact.x - centre.x
  my = my / sw + contact.y - centre.y
  const dist = Math.hypot(mx, my)
  if (dist < 0.04 * Math.max(box.width, box.height)) return { angle: null, length: 0 }
  const ux = mx / dist
  const uy = my / dist
  // 95th percentile of the darkness-weighted projection, from a histogram (no sort of a million pixels).
  const reach = Math.hypot(rect.width, rect.height) + Math.hypot(rect.x - contact.x, rect.y - contact.y) + 1
  const bins = 1024
  const hist = new Float64Array(bins)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = rgba[(y * w + x) * 4 + 3]
      if (a < 8) continue
      const v = ox[x] * ux + oy[y] * uy
      hist[Math.min(bins - 1, Math.max(0, Math.floor(((v + reach) / (2 * reach)) * bins)))] += a
    }
  }
  let acc = 0
  let length = dist
  for (let b = 0; b < bins; b++) {
    acc += hist[b]
    if (acc >= 0.95 * sw) {
      length = Math.max(dist, ((b + 1) / bins) * 2 * reach - reach)
      break
    }
  }
  return { angle: (Math.atan2(uy, ux) * 180) / Math.PI, length }
}

/**
 * Maps corrected attention maps (RGB PNG over a photo rectangle) into the model input the pipeline
 * will build for this object: the same context window and letterboxing as generateShadow
 * (contextWindow, square input of side S). `cover` marks model pixels the given maps cover.
 */
async function attentionInModelSpace(given: { png: Uint8Array; rect: Rect }, box: Rect, width: number, height: number, S: number): Promise<{ maps: Float32Array; cover: Uint8Array }> {
  const win = contextWindow(box, width, height)
  const scale = S / Math.max(win.width, win.height)
  const cw = Math.max(1, Math.round(win.width * scale))
  const ch = Math.max(1, Math.round(win.height * scale))
  const cx = Math.floor((S - cw) / 2)
  const cy = Math.floor((S - ch) / 2)
  const { data, info } = await sharp(Buffer.from(given.png)).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const maps = new Float32Array(S * S * 2)
  const cover = new Uint8Array(S * S)
  for (let v = 0; v < S; v++) {
    for (let u = 0; u < S; u++) {
      // model pixel centre -> photo -> given map pixel (nearest)
      const px = win.x + (Math.min(Math.max(u - cx, 0), cw - 1) + 0.5) / scale
      const py = win.y + (Math.min(Math.max(v - cy, 0), ch - 1) + 0.5) / scale
      const gx = Math.floor(((px - given.rect.x) / given.rect.width) * info.width)
      const gy = Math.floor(((py - given.rect.y) / given.rect.height) * info.height)
      if (gx < 0 || gy < 0 || gx >= info.width || gy >= info.height) continue
      const o = (gy * info.width + gx) * info.channels
      const i = v * S + u
      maps[i * 2] = data[o] / 255
      maps[i * 2 + 1] = data[o + 1] / 255
      cover[i] = 1
    }
  }
  return { maps, cover }
}
