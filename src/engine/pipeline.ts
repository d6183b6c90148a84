/**
 * The photo-resolution pipeline: a photo of any size (up to 100 MP) + the inserted object's mask
 * -> the photo with the object's shadow, the shadow as an editable multiply layer, and the
 * attention maps.
 *
 * 1. Bounding box of the mask (any nonzero = object).
 * 2. Context window (contextWindow below): a square of CONTEXT_SCALE x the object's larger side,
 *    but never larger than the photo's short side: for most photos that is the whole short side, so
 *    the model sees the scene (other objects and their shadows tell it where the light comes from)
 *    framed as in training, where the object fills 14-75% of the frame; only a small object in a
 *    large photo gets a tighter window (it still fills >= 1/CONTEXT_SCALE of it, so its shadow
 *    keeps enough model pixels). The window is centred on the object horizontally and shifted down
 *    (object centre at CENTRE_FROM_TOP of the window: shadows fall on the ground around and below
 *    it), then moved inside the photo. An object wider or taller than that square widens the window
 *    to cover it; such a non-square window is letterboxed into the square model input with edge
 *    pixels repeated, so nothing is stretched.
 * 3. The window is resized to the model size S (sharp, on the raw buffer: no re-decode) with the
 *    same kernel the trainer resizes its pairs with ('linear', area-averaging on downscale), and run.
 * 4. The darkening d is upsampled back to the window size with a smooth (Mitchell) filter and
 *    applied as composite = photo * (1 - d), only inside the window and never on object pixels:
 *    every other byte of the photo is left exactly as it was.
 */
import sharp from 'sharp'
import { resizeRawImage, type RawImage } from '../core/image'
import { UserError } from '../core/errors'
import type { ShadowEngine } from './inference'
import type { ModelOutputs, RunOutputs } from './runtime/types'
import type { LightOrigin } from '../shared/project'
import { applyShadingCue, litSide, objectShading, type ObjectShading } from './shading-cue'
import { castAngleFromSun, findSunInPhoto, type SunInPhoto } from './sun-cue'
import { mixShapePrior, readSceneDarkening, sceneDarknessFactors, type ShapePrior } from './shape-prior'
import { applyLightPrior, type CastEstimate, castFrameRotation, DEFAULT_CAST_ANGLE, directionMode, directionOutputTrusted, directionPosterior, estimateCastAngle, hedgeDirections, MIN_DIRECTION_CONFIDENCE, mirrorColumns, mirroredBin, modelMapsEstimate, rotateSquare, SCENE_READING_KAPPA, shiftSquare, weighByVonMises } from './cast-frame'

/** Largest window side as a multiple of the object's larger side (training frames: object 14-75% of the frame). */
export const CONTEXT_SCALE = 8
/** Where the object's centre sits in the window, from the top (0.5 = centred): more ground below. */
export const CENTRE_FROM_TOP = 0.45
/**
 * Darkening below this (2%) is the model's noise floor, not shadow: it is subtracted (d' = (d - f) /
 * (1 - f), a soft cut with no visible edge) so that pixels outside the shadow keep their bytes
 * exactly, as the user expects, and the composite only touches the shadow's own area.
 */
export const SHADOW_FLOOR = 0.02
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
  /**
   * Largest side of the layer image (default: none, the layer has the window's full size). The
   * editor asks for a screen-sized layer: a 9 MP RGBA layer is 36 MB to move and encode, and the
   * shadow is smooth, so a smaller layer stretched over the same placement looks the same.
   */
  layerMaxSide?: number
  /** Write the shadow into `image.data` itself instead of a copy (saves a 12 MP copy in batch). */
  inPlace?: boolean
  /**
   * Apply the shadow to the photo (default true). The editor only wants the layer (it composites
   * on screen and at export): false leaves the photo as it was (`composite` is the input image
   * unchanged) and makes only the layer, at `layerMaxSide` or full size.
   */
  applyToImage?: boolean
  /** Checked between stages; an aborted run throws the signal's reason and writes nothing. */
  signal?: AbortSignal
  /**
   * Direction the shadow is cast, radians in photo pixels (x right, y down; see cast-frame.ts):
   * the user's steered light. Only models that work in the cast frame take a direction; others
   * guess it themselves and ignore this.
   */
  castAngle?: number
  /**
   * Without castAngle: read the direction from the attention maps (estimateCastAngle with its
   * default settings), falling back to the default when their votes disagree. Meant for maps the
   * user painted or corrected. Without either, a model with a direction output uses its own vote
   * when it is sure enough; otherwise the mean shadow over the directions the model believes in
   * (CastUsed.spread). The belief is weighed by the object's shading (shading-cue.ts), by the
   * model's own maps read strictly (modelMapsEstimate, where they are clear: about a third of
   * synthetic pairs; SCENE_READING_KAPPA) and for a fine-tuned model by the light of its pairs
   * (manifest training.lightPrior). Before that mean, when the maps showed no shadow to read and
   * the sun or its glow is in the photo (sun-cue.ts): away from it. A model without a direction
   * output takes the strict reading, the sun, or DEFAULT_CAST_ANGLE, light from the upper left;
   * the user then steers.
   */
  lightFromAttention?: boolean
  /**
   * The silhouette prior mixed into a cast-frame model's darkening in each direction
   * (shape-prior.ts); default: the model's own (manifest `shapePrior`), null: none.
   */
  shapePrior?: ShapePrior | null
  /**
   * With no light given, average the model's direction output over the crop, the crop mirrored
   * and the crop moved by a few pixels each way (steadyDirectionLogits), so that nudging the object
   * does not swing its shadow. Default true; false: the crop's own output alone (no extra model
   * pass).
   */
  steadyDirection?: boolean
  /**
   * A cast-frame model's darkening in each direction averaged with its darkening of the mirrored
   * (turned) input, mirrored back (shadeCasts). Default true; false: one pass per direction.
   */
  mirrorAverage?: boolean
}

/** The direction a cast-frame model was given, and where it came from. */
export interface CastUsed {
  angle: number
  /**
   * 'user': options.castAngle; 'scene': read from the attention maps (painted ones with
   * lightFromAttention, else the model's own, strictly, for a model without a direction output;
   * with one, the reading weighs its belief instead: sceneAngle);
   * 'model': the model's own direction output: its mode, sure enough (MIN_DIRECTION_CONFIDENCE),
   * or, with `spread`, its whole belief;
   * 'sun': away from the sun in the photo, through the object's foot (sun-cue.ts);
   * 'default': DEFAULT_CAST_ANGLE (none of those).
   */
  source: 'user' | 'scene' | 'model' | 'sun' | 'default'
  /** The direction output's confidence (0-1, directionMode) when the model has one. */
  confidence?: number
  /**
   * Where the light was not known (source 'model' below the confidence gate): the shadow is the
   * weighted mean of the shadows cast in these directions, the model's belief (hedgeDirections);
   * `angle` is then the most probable one, where a steered light starts.
   */
  spread?: { angle: number; weight: number }[]
  /**
   * The side the object's shading says the light comes from, when that moved the belief
   * (shading-cue.ts litSide).
   */
  litFrom?: 'left' | 'right'
  /** With source 'sun': where the sun (or its glow) is in the photo, in photo pixels. */
  sun?: { x: number; y: number }
  /**
   * With source 'model': the direction the occluder shadows found in the photo point (radians),
   * when that reading weighed the belief (SCENE_READING_KAPPA).
   */
  sceneAngle?: number
}

/** CastUsed as the editor keeps it (project LightOrigin): degrees, and 'spread' for the hedge. */
export function lightOriginOf(cast: CastUsed | null): LightOrigin | null {
  if (!cast) return null
  const degrees = (radians: number) => (radians * 180) / Math.PI
  const confidence = cast.confidence === undefined ? {} : { confidence: Math.min(1, Math.max(0, cast.confidence)) }
  const lit = cast.litFrom ? { litFrom: cast.litFrom } : {}
  const scene = cast.sceneAngle === undefined ? {} : { sceneAngle: degrees(cast.sceneAngle) }
  if (cast.spread) return { kind: 'spread', ...confidence, ...lit, ...scene, directions: cast.spread.map((d) => ({ angle: degrees(d.angle), weight: d.weight })) }
  if (cast.sun) return { kind: 'sun', sun: { x: Math.round(cast.sun.x), y: Math.round(cast.sun.y) } }
  return { kind: cast.source, ...confidence, ...lit, ...scene }
}

export interface GenerateShadowResult {
  composite: RawImage
  layer: ShadowLayer | null
  attention: AttentionMaps
  /** Null for a model that chooses the direction itself (image frame). */
  cast: CastUsed | null
  objectBox: Rect
  window: Rect
  warnings: string[]
  /** Milliseconds per stage (wall clock). */
  timings: { crop: number; infer: number; upsample: number; composite: number }
  /** CPU milliseconds per stage, all threads of the process (what a stage costs when other work competes for the cores). */
  cpuTimings: { crop: number; infer: number; upsample: number; composite: number }
}

export interface ShadowInput {
  /** RGB (or RGBA: alpha kept as it is). */
  image: RawImage
  /** One channel, same size; nonzero = object. */
  mask: RawImage
}

/**
 * Index of the first (step 1) or last (step -1) nonzero byte in data[from..to), or -1. Reads four
 * bytes at a time through `words` (data's bytes as 32-bit words; null when data does not start on a
 * 4-byte boundary): a 12 MP mask is mostly zeros, and this is 4x fewer reads than a byte loop.
 */
function nonzeroByte(data: Uint8Array, words: Uint32Array | null, from: number, to: number, step: 1 | -1): number {
  if (step === 1) {
    let i = from
    if (words) {
      while (i < to && i % 4 !== 0) if (data[i++] !== 0) return i - 1
      for (let w = i >> 2, end = to >> 2; w < end; w++, i += 4) if (words[w] !== 0) break
    }
    for (; i < to; i++) if (data[i] !== 0) return i
    return -1
  }
  let i = to - 1
  if (words) {
    while (i >= from && (i + 1) % 4 !== 0) if (data[i--] !== 0) return i + 1
    for (let w = (i + 1) >> 2, start = Math.ceil(from / 4); w > start; w--, i -= 4) if (words[w - 1] !== 0) break
  }
  for (; i >= from; i--) if (data[i] !== 0) return i
  return -1
}

/**
 * Bounding box of the nonzero pixels, or null when there are none. The first and last rows come
 * from a scan of the whole buffer; only the rows between them are scanned for the columns, and
 * each of those only from its ends inwards.
 */
export function maskBoundingBox(mask: RawImage): Rect | null {
  const { width, height, data } = mask
  const n = width * height
  const words = data.byteOffset % 4 === 0 ? new Uint32Array(data.buffer, data.byteOffset, data.length >> 2) : null
  const first = nonzeroByte(data, words, 0, n, 1)
  if (first < 0) return null
  const last = nonzeroByte(data, words, 0, n, -1)
  const top = Math.floor(first / width)
  const bottom = Math.floor(last / width)
  let left = width
  let right = -1
  for (let y = top; y <= bottom; y++) {
    const row = y * width
    // Only a pixel left of the box so far (or right of it) can widen it.
    const l = nonzeroByte(data, words, row, row + left, 1)
    if (l >= 0) left = l - row
    const r = nonzeroByte(data, words, row + right + 1, row + width, -1)
    if (r >= 0) right = r - row
  }
  return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v
}

/**
 * The context window for an object box in a width x height photo (rule in the file comment).
 * Exported so that training crops can be framed the same way.
 */
export function contextWindow(box: Rect, width: number, height: number, contextScale = CONTEXT_SCALE, centreFromTop = CENTRE_FROM_TOP): Rect & { cramped: boolean } {
  const side = Math.min(Math.max(MIN_WINDOW, Math.ceil(contextScale * Math.max(box.width, box.height))), Math.min(width, height))
  const ww = Math.min(width, Math.max(side, box.width))
  const wh = Math.min(height, Math.max(side, box.height))
  const cx = box.x + box.width / 2
  const cy = box.y + box.height / 2
  // Keep the object inside the window first, then the window inside the photo.
  let x = Math.round(cx - ww / 2)
  x = clamp(x, box.x + box.width - ww, box.x)
  x = clamp(x, 0, width - ww)
  let y = Math.round(cy - centreFromTop * wh)
  y = clamp(y, box.y + box.height - wh, box.y)
  y = clamp(y, 0, height - wh)
  // Less than a third of the object's size free around it both ways: little ground for a shadow.
  const cramped = ww < box.width * 1.33 && wh < box.height * 1.33
  return { x, y, width: ww, height: wh, cramped }
}

/** Source indices and weights for resampling `from` samples to `to` with pixel centres aligned (bilinear). */
function bilinearTaps(from: number, to: number): { i0: Int32Array; i1: Int32Array; w: Float32Array } {
  const i0 = new Int32Array(to)
  const i1 = new Int32Array(to)
  const w = new Float32Array(to)
  for (let x = 0; x < to; x++) {
    const f = Math.min(Math.max(((x + 0.5) * from) / to - 0.5, 0), from - 1)
    const i = Math.floor(f)
    i0[x] = i
    i1[x] = Math.min(i + 1, from - 1)
    w[x] = f - i
  }
  return { i0, i1, w }
}

/** Inclusive bounds of the pixels with any nonzero channel in an RGB buffer, or null. */
function nonzeroArea(rgb: Uint8Array, width: number, height: number): { x0: number; x1: number; y0: number; y1: number } | null {
  let x0 = width
  let x1 = -1
  let y0 = -1
  let y1 = -1
  for (let y = 0; y < height; y++) {
    const base = y * width * 3
    for (let x = 0; x < width; x++) {
      const i = base + x * 3
      if ((rgb[i] | rgb[i + 1] | rgb[i + 2]) !== 0) {
        if (y0 < 0) y0 = y
        y1 = y
        if (x < x0) x0 = x
        if (x > x1) x1 = x
      }
    }
  }
  return y0 < 0 ? null : { x0, x1, y0, y1 }
}

/** The output index range [from, to) whose bilinear taps touch source samples lo..hi. */
function tapRange(taps: { i0: Int32Array; i1: Int32Array }, lo: number, hi: number): [number, number] {
  const n = taps.i0.length
  let from = 0
  while (from < n && taps.i1[from] < lo) from++
  let to = n
  while (to > from && taps.i0[to - 1] > hi) to--
  return [from, to]
}

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
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
  const signal = options.signal
  signal?.throwIfAborted()
  const { image, mask } = input
  const S = engine.size
  const warnings: string[] = []
  const t0 = performance.now()
  const c0 = cpuMs()

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
  const { window, content, batch, cramped } = await cropForModel(image, mask, box, S, options)
  if (cramped) {
    warnings.push(`the object fills most of the photo (${box.width}x${box.height} of ${image.width}x${image.height}): there is little room around it for a shadow`)
  }
  const t1 = performance.now()
  const c1 = cpuMs()
  signal?.throwIfAborted()

  const foot = { x: box.x + box.width / 2, y: box.y + box.height }
  const { attention, darkening, cast } = await runModel(engine, batch, options, {
    shading: () => objectShading(image, mask, box),
    sun: () => findSunInPhoto(image, mask, foot),
    foot,
  })
  const t2 = performance.now()
  const c2 = cpuMs()
  signal?.throwIfAborted()

  // Darkening of the window's part of the model output, as 8-bit, with the noise floor removed
  // (see SHADOW_FLOOR), upsampled to the window size.
  const dSmall = Buffer.alloc(content.width * content.height * 3)
  for (let y = 0; y < content.height; y++) {
    for (let x = 0; x < content.width; x++) {
      const src = ((y + content.y) * S + (x + content.x)) * 3
      const dst = (y * content.width + x) * 3
      for (let k = 0; k < 3; k++) {
        const v = (darkening[src + k] - SHADOW_FLOOR) / (1 - SHADOW_FLOOR)
        dSmall[dst + k] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255)
      }
    }
  }
  // Smooth upsampling in two stages: a Mitchell filter (sharp) to at most 4x the model output, then
  // bilinear from there to the window size, fused into the composite loop below, so the full-size
  // darkening is never materialised (a 9 MP window would be 27 MB written and read again).
  const midW = Math.min(window.width, content.width * 4)
  const midH = Math.min(window.height, content.height * 4)
  const mid =
    midW === content.width && midH === content.height
      ? dSmall
      : await sharp(dSmall, { raw: { width: content.width, height: content.height, channels: 3 } })
          .resize(midW, midH, { fit: 'fill', kernel: 'mitchell' })
          .raw()
          .toBuffer()
  const t3 = performance.now()
  const c3 = cpuMs()
  signal?.throwIfAborted()

  const composite: RawImage = options.inPlace ? image : { ...image, data: new Uint8Array(image.data) }
  const layerScale = options.layerMaxSide ? Math.min(1, options.layerMaxSide / Math.max(window.width, window.height)) : 1
  const fullLayer = options.layer !== false && layerScale === 1
  let layerImage: RawImage | null = null
  if (fullLayer) {
    layerImage = { width: window.width, height: window.height, channels: 4, data: new Uint8Array(window.width * window.height * 4) }
    new Uint32Array(layerImage.data.buffer).fill(0x00ffffff) // transparent white (little-endian RGBA 255,255,255,0)
  }
  // A full-size layer is filled in the same pass as the composite (or alone, when the photo stays as it was).
  const darkenImage = options.applyToImage !== false
  if (darkenImage || fullLayer) applyDarkening(darkenImage ? composite.data : null, mask.data, window, mid, midW, midH, layerImage?.data ?? null, image.width, image.channels)
  if (options.layer !== false && !fullLayer) {
    layerImage = renderSmallLayer(mask, window, mid, midW, midH, Math.max(1, Math.round(window.width * layerScale)), Math.max(1, Math.round(window.height * layerScale)))
  }
  const t4 = performance.now()
  const c4 = cpuMs()

  const occluders = new Float32Array(S * S)
  const occluderShadows = new Float32Array(S * S)
  for (let i = 0; i < S * S; i++) {
    occluders[i] = attention[i * 2]
    occluderShadows[i] = attention[i * 2 + 1]
  }
  return {
    composite,
    layer: layerImage ? { ...window, image: layerImage } : null,
    attention: { size: S, window, content, occluders, occluderShadows },
    cast,
    objectBox: box,
    window,
    warnings,
    timings: { crop: t1 - t0, infer: t2 - t1, upsample: t3 - t2, composite: t4 - t3 },
    cpuTimings: { crop: c1 - c0, infer: c2 - c1, upsample: c3 - c2, composite: c4 - c3 },
  }
}

/**
 * The model's input for one photo: the context window around the object's box, letterboxed into an
 * S x S square (no stretching), RGB 0-1 with the object mask (area coverage) in channel 3.
 */
export async function cropForModel(image: RawImage, mask: RawImage, box: Rect, S: number, options: Pick<GenerateShadowOptions, 'contextScale' | 'centreFromTop'> = {}): Promise<{ window: Rect; content: Rect; batch: Float32Array; cramped: boolean }> {
  const win = contextWindow(box, image.width, image.height, options.contextScale, options.centreFromTop)
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
      .resize(content.width, content.height, { fit: 'fill', kernel: 'linear' })
      .extend(extend)
      .removeAlpha()
      .raw()
      .toBuffer(),
    // Any nonzero value is object: binarise the window first (sharp would resize before thresholding).
    sharp(asBuffer(mask.data), { raw: { width: mask.width, height: mask.height, channels: 1 } })
      .extract(region)
      .threshold(1, { grayscale: true })
      .toColourspace('b-w')
      .raw()
      .toBuffer()
      .then((binary) =>
        sharp(binary, { raw: { width: window.width, height: window.height, channels: 1 } })
          .resize(content.width, content.height, { fit: 'fill', kernel: 'linear' })
          .extend(extend)
          .toColourspace('b-w')
          .raw()
          .toBuffer(),
      ),
  ])
  if (maskSmall.length !== S * S) throw new Error(`mask resize returned ${maskSmall.length} bytes for ${S}x${S}`)
  const batch = new Float32Array(S * S * 4)
  for (let i = 0, j = 0; i < S * S; i++, j += 3) {
    batch[i * 4] = rgbSmall[j] / 255
    batch[i * 4 + 1] = rgbSmall[j + 1] / 255
    batch[i * 4 + 2] = rgbSmall[j + 2] / 255
    // Soft at the edges (area coverage), exactly as the trainer resizes its binary masks.
    batch[i * 4 + 3] = maskSmall[i] / 255
  }
  return { window, content, batch, cramped: win.cramped }
}

/** What runModel may read from the full-resolution photo, only when it needs it (no light given). */
interface PhotoCues {
  /** The object's shading (shading-cue.ts). */
  shading: () => ObjectShading | null
  /** The sun or its glow in the photo (sun-cue.ts). */
  sun: () => SunInPhoto | null
  /** The object's contact point in photo pixels (the middle of its mask's lowest row). */
  foot: { x: number; y: number }
}

/**
 * The model on one prepared input. A cast-frame model (cast-frame.ts) runs twice: once as it is, for
 * the attention maps (what the editor overlays and the user corrects, and what the direction can
 * be read from), then turned so the shadow falls down its input; its darkening is turned back.
 */
async function runModel(engine: ShadowEngine, batch: Float32Array, options: GenerateShadowOptions, cues: PhotoCues): Promise<{ attention: Float32Array; darkening: Float32Array; cast: CastUsed | null }> {
  const S = engine.size
  const castFrame = engine.manifest.architecture.castFrame === 'down'
  // A cast-frame model's darkening comes from the turned passes below: its first pass needs only the maps and the direction.
  const first = await engine.infer(batch, 1, castFrame ? MAPS_ONLY : undefined)
  if (!castFrame) {
    const darkening = engine.shade ? await engine.shade(batch, first.attention, 1) : first.darkening
    return { attention: first.attention, darkening, cast: null }
  }
  const objectMask = () => objectCoverage(batch, S)
  let cast: CastUsed = { angle: DEFAULT_CAST_ANGLE, source: 'default' }
  if (options.castAngle !== undefined && Number.isFinite(options.castAngle)) {
    cast = { angle: options.castAngle, source: 'user' }
  } else if (options.lightFromAttention) {
    const estimate = estimateCastAngle(first.attention, objectMask(), S)
    cast = { angle: estimate.angle, source: estimate.source }
  } else {
    // No light given. A model with a direction output: its belief, weighed by the light of the
    // pairs it was fine-tuned on (a studio's key light), by the object's shading (left against
    // right, shading-cue.ts) and by the occluder shadows its attention block found, read strictly
    // (modelMapsEstimate, as evidence: SCENE_READING_KAPPA). Its mode when its validation vouches
    // for it and it is sure; else the sun in the photo where the maps showed no shadows to read;
    // else the mean shadow over the belief. A model without one: the strict reading, the sun,
    // the default.
    const object = objectMask()
    const estimate = estimateCastAngle(first.attention, object, S, modelMapsEstimate(engine.manifest.training))
    const scene = estimate.source === 'scene'
    // The sun in the picture: shadows run away from it, towards the viewer. It decides where the
    // scene's own shadows did not, because the belief cannot know it (the synthetic training
    // scenes never show their sun) and tends to hedge between left and right on such photos.
    // Only a mode that validation vouches for comes before it; otherwise it is looked for first,
    // and where it is found the belief (and its views) is not needed.
    const sun = () => (scene ? null : cues.sun())
    const trusted = directionOutputTrusted(engine.manifest.metrics)
    let found = trusted ? null : sun()
    if (!found) {
      const bins = engine.manifest.architecture.directionBins
      const seen = options.steadyDirection !== false && first.direction && typeof bins === 'number' ? { ...first, direction: await steadyDirectionLogits(engine, batch, first.direction, bins) } : first
      const { posterior, side } = weighBelief(engine, seen, object, cues, estimate)
      const litFrom = side ? { litFrom: side } : {}
      const sceneWeighed = posterior && scene ? { sceneAngle: estimate.angle } : {}
      const mode = posterior ? directionMode(posterior) : null
      if (mode && mode.confidence >= MIN_DIRECTION_CONFIDENCE && trusted) {
        cast = { angle: mode.angle, source: 'model', confidence: mode.confidence, ...litFrom, ...sceneWeighed }
      } else {
        found = trusted ? sun() : null
        if (!found) {
          if (posterior && mode) {
            const spread = hedgeDirections(posterior)
            cast = { angle: mode.angle, source: 'model', confidence: mode.confidence, spread, ...litFrom, ...sceneWeighed }
            return { attention: first.attention, darkening: await shadeSpread(engine, batch, first.attention, spread, options.shapePrior, options.mirrorAverage !== false), cast }
          }
          cast = { angle: estimate.angle, source: estimate.source }
        }
      }
    }
    if (found) cast = { angle: castAngleFromSun(found, cues.foot), source: 'sun', sun: { x: found.x, y: found.y } }
  }
  return { attention: first.attention, darkening: (await shadeCasts(engine, batch, first.attention, [cast.angle], options.shapePrior, options.mirrorAverage !== false))[0], cast }
}

/** For passes that read only the attention maps and the direction output. */
const MAPS_ONLY: RunOutputs = { darkening: false }

/**
 * How far, as a fraction of the model's input size, the crop is moved each way for
 * steadyDirectionLogits: 3 pixels at 128 px, a fifth of a cell of the direction output's 8 x 8
 * grid. Chosen before measuring (twenty-fourth session), not fitted.
 */
export const DIRECTION_VIEW_SHIFT = 0.025

/**
 * The model's direction logits averaged over five views of its input besides `batch` itself:
 * mirrored left to right (its bins mirrored back) and moved by DIRECTION_VIEW_SHIFT of the crop
 * right, left, down and up. One batched model pass.
 *
 * Why: the belief from one crop moves by up to 14 degrees when the crop shifts by a few pixels,
 * and the hedge's pairing can turn that into a 17-degree swing of the main shadow (real-dev:
 * desobav2_0 and desobav2_2 when the object moves 4 pixels). Averaged, the main direction's range
 * over such nudges fell from a mean of 6.2 to 3.3 degrees on real-dev, and from 44.7 to 23.0 degrees
 * at the 90th percentile of 60 tuning pairs (scripts/measure-steadiness.ts). Measured against one crop: tuning split -0.025 GRMSE,
 * -0.10 LRMSE; held-out v4 -0.023, -0.07; real-dev -0.02, +0.05 (docs/model.md, twenty-fourth
 * session). Training flips half its examples and zooms them, so these views are what the model
 * knows.
 */
export async function steadyDirectionLogits(engine: ShadowEngine, batch: Float32Array, direction: Float32Array, bins: number): Promise<Float32Array> {
  const S = engine.size
  const r = Math.max(1, Math.round(S * DIRECTION_VIEW_SHIFT))
  const views: { input: Float32Array; mirrored: boolean }[] = [
    { input: mirrorColumns(batch, S, 4), mirrored: true },
    ...[[r, 0], [-r, 0], [0, r], [0, -r]].map(([dx, dy]) => ({ input: shiftSquare(batch, S, 4, dx, dy), mirrored: false })),
  ]
  const inputs = new Float32Array(views.length * S * S * 4)
  views.forEach((v, i) => inputs.set(v.input, i * S * S * 4))
  const out = (await engine.infer(inputs, views.length, MAPS_ONLY)).direction
  const per = direction.length
  if (!out || out.length !== per * views.length) throw new Error(`steadyDirectionLogits: the model gave ${out?.length ?? 0} direction values for ${views.length} views of ${per}`)
  const sum = Float32Array.from(direction)
  views.forEach((v, i) => {
    const o = i * per
    for (let c = 0; c < per; c += bins) for (let k = 0; k < bins; k++) sum[c + k] += out[o + c + (v.mirrored ? mirroredBin(k, bins) : k)]
  })
  for (let i = 0; i < per; i++) sum[i] /= views.length + 1
  return sum
}

/**
 * The direction belief with no light given, before the hedge: the model's direction output
 * (`belief`; null for a model without one) weighed by the light of the pairs it was fine-tuned on,
 * by the object's shading and by the model's own maps read strictly (`posterior`). `estimate` is
 * that strict reading, `side` the side the shading says the object is lit from.
 */
export function weighBelief(
  engine: ShadowEngine,
  first: Pick<ModelOutputs, 'attention' | 'direction'>,
  object: Float32Array,
  cues: { shading: () => ObjectShading | null },
  estimate = estimateCastAngle(first.attention, object, engine.size, modelMapsEstimate(engine.manifest.training)),
): { belief: Float64Array | null; posterior: Float64Array | null; estimate: CastEstimate; side: 'left' | 'right' | null } {
  const bins = engine.manifest.architecture.directionBins
  const prior = engine.manifest.training?.lightPrior
  const belief = first.direction && typeof bins === 'number' ? directionPosterior(first.direction, bins) : null
  const weighed = belief && prior ? applyLightPrior(belief, prior) : belief
  const cue = weighed ? cues.shading() : null
  const shaded = weighed && cue ? applyShadingCue(weighed, cue) : weighed
  const side = weighed && cue ? litSide(weighed, cue) : null
  const posterior = shaded && estimate.source === 'scene' ? weighByVonMises(shaded, estimate.angle, SCENE_READING_KAPPA) : shaded
  return { belief, posterior, estimate, side }
}

/**
 * A cast-frame model's darkenings cast in each of `angles`, in one batch: the input turned so that
 * each falls down, the results turned back, each mixed with the object's projected silhouette in
 * the same direction (`shapePrior`; undefined: the model's own, null: none) and, with the prior's
 * `sceneDarkness`, made about as dark as the shadows the attention maps show in the photo.
 *
 * With `mirrorAverage` (the default) each turned input is also run mirrored left to right (the
 * shadow still falls down) and the two darkenings are averaged, the mirrored one mirrored back.
 * Training flips half its examples, so both are equally good answers where photos are as likely
 * lit from the left as from the right. On every photo their mean's squared error is at most the
 * mean of theirs (squared error is convex), and lower wherever they differ. Measured
 * (twenty-fourth session, against one pass): tuning split -0.018 GRMSE, -0.08 LRMSE; held-out v4
 * -0.041, -0.05; real-dev -0.09, +0.07. It doubles the shadow passes.
 */
export async function shadeCasts(engine: ShadowEngine, batch: Float32Array, attention: Float32Array, angles: number[], shapePriorOption?: ShapePrior | null, mirrorAverage = true): Promise<Float32Array[]> {
  const S = engine.size
  const n = angles.length
  const runs = mirrorAverage ? 2 * n : n
  const inputs = new Float32Array(runs * S * S * 4)
  const maps = new Float32Array(runs * S * S * 2)
  angles.forEach((angle, k) => {
    const turn = castFrameRotation(angle)
    const input = rotateSquare(batch, S, 4, turn, 'clamp', inputs.subarray(k * S * S * 4, (k + 1) * S * S * 4))
    const map = rotateSquare(attention, S, 2, turn, 'clamp', maps.subarray(k * S * S * 2, (k + 1) * S * S * 2))
    if (mirrorAverage) {
      inputs.set(mirrorColumns(input, S, 4), (n + k) * S * S * 4)
      maps.set(mirrorColumns(map, S, 2), (n + k) * S * S * 2)
    }
  })
  const dark = engine.shade ? await engine.shade(inputs, maps, runs) : (await engine.infer(inputs, runs)).darkening
  const castDown = (k: number): Float32Array => {
    const own = dark.subarray(k * S * S * 3, (k + 1) * S * S * 3)
    if (!mirrorAverage) return own
    const mirrored = mirrorColumns(dark.subarray((n + k) * S * S * 3, (n + k + 1) * S * S * 3), S, 3)
    for (let i = 0; i < mirrored.length; i++) mirrored[i] = (mirrored[i] + own[i]) / 2
    return mirrored
  }
  const turnedBack = angles.map((angle, k) => rotateSquare(castDown(k), S, 3, -castFrameRotation(angle), 'zero'))
  const shapePrior = shapePriorOption === undefined ? (engine.manifest.shapePrior ?? null) : shapePriorOption
  if (!shapePrior) return turnedBack
  const object = objectCoverage(batch, S)
  const mixed = turnedBack.map((d, k) => mixShapePrior(d, object, S, angles[k], shapePrior))
  const reading = shapePrior.sceneDarkness ? readSceneDarkening(batch, attention, S, shapePrior.sceneDarkness) : null
  if (!reading) return mixed
  const factors = sceneDarknessFactors(shapePrior, reading)
  for (const d of mixed) for (let i = 0; i < d.length; i++) d[i] = Math.min(1, d[i] * factors[i % 3])
  return mixed
}

/** The object mask (area coverage) of a model input: its channel 3. */
export function objectCoverage(batch: Float32Array, S: number): Float32Array {
  const object = new Float32Array(S * S)
  for (let i = 0; i < S * S; i++) object[i] = batch[i * 4 + 3]
  return object
}

/** The weighted mean of the darkenings cast in each direction of `spread` (weights sum to 1). */
async function shadeSpread(engine: ShadowEngine, batch: Float32Array, attention: Float32Array, spread: { angle: number; weight: number }[], shapePrior: ShapePrior | null | undefined, mirrorAverage: boolean): Promise<Float32Array> {
  const sum = new Float32Array(engine.size * engine.size * 3)
  const darks = await shadeCasts(engine, batch, attention, spread.map((d) => d.angle), shapePrior, mirrorAverage)
  spread.forEach(({ weight }, k) => {
    const d = darks[k]
    for (let i = 0; i < sum.length; i++) sum[i] += weight * d[i]
  })
  return sum
}

/**
 * `mid` row `row` resampled to the window's width, 0-255 in 8.8 fixed point, columns x0..x1-1.
 * The columns where it is nonzero go to `span` as [first, end) (first >= end: the row is all zero).
 */
function horizontalRow(mid: Uint8Array, midW: number, row: number, i0: Int32Array, i1: Int32Array, w8: Int32Array, x0: number, x1: number, dst: Int32Array, span: Int32Array): void {
  const base = row * midW * 3
  let first = x1
  let last = x0 - 1
  for (let x = x0; x < x1; x++) {
    const a = base + i0[x]
    const b = base + i1[x]
    const w = w8[x]
    const k = x * 3
    const v0 = (mid[a] << 8) + (mid[b] - mid[a]) * w
    const v1 = (mid[a + 1] << 8) + (mid[b + 1] - mid[a + 1]) * w
    const v2 = (mid[a + 2] << 8) + (mid[b + 2] - mid[a + 2]) * w
    dst[k] = v0
    dst[k + 1] = v1
    dst[k + 2] = v2
    if ((v0 | v1 | v2) !== 0) {
      if (first === x1) first = x
      last = x
    }
  }
  span[0] = first
  span[1] = last + 1
}

/**
 * One window row of the composite: photo pixels wx in [from, to) (photo index rowStart + wx)
 * multiplied by 1 - d, d the vertical lerp (weight wv / 256) of two 8.8 rows, object pixels kept.
 * Its own small function, called per row, so V8 optimises it from full type feedback: the same loop
 * inlined in applyDarkening (one call per photo, optimised mid-loop) ran about 2x slower.
 */
function darkenRow(out: Uint8Array, channels: number, maskData: Uint8Array, rowStart: number, rowA: Int32Array, rowB: Int32Array, wv: number, from: number, to: number): void {
  for (let wx = from; wx < to; wx++) {
    const p = rowStart + wx
    if (maskData[p] !== 0) continue
    const k = wx * 3
    // Vertical lerp in 16.16, rounded to 0-255.
    let a = rowA[k]
    const d0 = ((a << 8) + (rowB[k] - a) * wv + 32768) >> 16
    a = rowA[k + 1]
    const d1 = ((a << 8) + (rowB[k + 1] - a) * wv + 32768) >> 16
    a = rowA[k + 2]
    const d2 = ((a << 8) + (rowB[k + 2] - a) * wv + 32768) >> 16
    if ((d0 | d1 | d2) === 0) continue
    const o = p * channels
    // round(v * (255 - d) / 255) in integers: (t + (t >> 8)) >> 8 divides by 255 exactly after the +128.
    let t = out[o] * (255 - d0) + 128
    out[o] = (t + (t >> 8)) >> 8
    t = out[o + 1] * (255 - d1) + 128
    out[o + 1] = (t + (t >> 8)) >> 8
    t = out[o + 2] * (255 - d2) + 128
    out[o + 2] = (t + (t >> 8)) >> 8
  }
}

/**
 * The same row of the RGBA multiply layer (starting at byte rowOffset): alpha = max_c d_c, colour
 * c_k = 1 - d_k / alpha; pixels without shadow, and the object's, stay transparent white.
 */
function layerRow(layer: Uint8Array, rowOffset: number, maskData: Uint8Array, rowStart: number, rowA: Int32Array, rowB: Int32Array, wv: number, from: number, to: number): void {
  for (let wx = from; wx < to; wx++) {
    if (maskData[rowStart + wx] !== 0) continue
    const k = wx * 3
    // The same lerp as darkenRow's, written out: as a shared helper function the composite took ~10% longer.
    let a = rowA[k]
    const d0 = ((a << 8) + (rowB[k] - a) * wv + 32768) >> 16
    a = rowA[k + 1]
    const d1 = ((a << 8) + (rowB[k + 1] - a) * wv + 32768) >> 16
    a = rowA[k + 2]
    const d2 = ((a << 8) + (rowB[k + 2] - a) * wv + 32768) >> 16
    const al = d0 > d1 ? (d0 > d2 ? d0 : d2) : d1 > d2 ? d1 : d2
    if (al === 0) continue
    const li = rowOffset + wx * 4
    layer[li] = ((255 * (al - d0)) / al + 0.5) | 0
    layer[li + 1] = ((255 * (al - d1)) / al + 0.5) | 0
    layer[li + 2] = ((255 * (al - d2)) / al + 0.5) | 0
    layer[li + 3] = al
  }
}

/**
 * photo = photo * (1 - d) inside the window (when `photo` is given: imageWidth pixels of `channels`
 * bytes a row), object pixels skipped, with d bilinearly upsampled from `mid` (midW x midH x 3,
 * 0-255) on the fly; also fills the window's RGBA multiply layer when given. Integer arithmetic
 * (8.8 rows, a 16.16 vertical lerp), the per-pixel work in darkenRow and layerRow: with the loop in
 * doubles inside this function it took about twice as long.
 */
function applyDarkening(photo: Uint8Array | null, maskData: Uint8Array, window: Rect, mid: Uint8Array, midW: number, midH: number, layerData: Uint8Array | null, imageWidth: number, channels: number): void {
  const ww = window.width
  const xTaps = bilinearTaps(midW, ww)
  const yTaps = bilinearTaps(midH, window.height)
  const area = nonzeroArea(mid, midW, midH)
  if (!area) return
  const [x0, x1] = tapRange(xTaps, area.x0, area.x1)
  const [y0, y1] = tapRange(yTaps, area.y0, area.y1)
  // Integer taps: source offsets in bytes, weights in 1/256.
  const i0 = new Int32Array(ww)
  const i1 = new Int32Array(ww)
  const w8 = new Int32Array(ww)
  for (let x = 0; x < ww; x++) {
    i0[x] = xTaps.i0[x] * 3
    i1[x] = xTaps.i1[x] * 3
    w8[x] = Math.round(xTaps.w[x] * 256)
  }
  let rowA = new Int32Array(ww * 3)
  let rowB = new Int32Array(ww * 3)
  // Each row's nonzero columns [first, end): a shadow covers part of each row, and the loop below
  // runs only over the union of the two rows' spans.
  let spanA = new Int32Array(2)
  let spanB = new Int32Array(2)
  let rowAIndex = -1
  let rowBIndex = -1
  for (let wy = y0; wy < y1; wy++) {
    const j0 = yTaps.i0[wy]
    const j1 = yTaps.i1[wy]
    if (rowAIndex !== j0) {
      if (rowBIndex === j0) {
        const t = rowA
        rowA = rowB
        rowB = t
        const u = spanA
        spanA = spanB
        spanB = u
        rowBIndex = -1
      } else {
        horizontalRow(mid, midW, j0, i0, i1, w8, x0, x1, rowA, spanA)
      }
      rowAIndex = j0
    }
    if (rowBIndex !== j1) {
      horizontalRow(mid, midW, j1, i0, i1, w8, x0, x1, rowB, spanB)
      rowBIndex = j1
    }
    const from = spanA[0] < spanB[0] ? spanA[0] : spanB[0]
    const to = spanA[1] > spanB[1] ? spanA[1] : spanB[1]
    if (from >= to) continue
    const wv = Math.round(yTaps.w[wy] * 256)
    const rowStart = (window.y + wy) * imageWidth + window.x
    if (photo !== null) darkenRow(photo, channels, maskData, rowStart, rowA, rowB, wv, from, to)
    if (layerData !== null) layerRow(layerData, wy * ww * 4, maskData, rowStart, rowA, rowB, wv, from, to)
  }
}

/**
 * The multiply layer at a reduced size (lw x lh) covering the same window: darkening sampled
 * bilinearly from `mid`, object pixels (the mask at the nearest photo pixel) left transparent.
 */
function renderSmallLayer(mask: RawImage, window: Rect, mid: Uint8Array, midW: number, midH: number, lw: number, lh: number): RawImage {
  const data = new Uint8Array(lw * lh * 4)
  new Uint32Array(data.buffer).fill(0x00ffffff)
  const xTaps = bilinearTaps(midW, lw)
  const yTaps = bilinearTaps(midH, lh)
  for (let y = 0; y < lh; y++) {
    const py = window.y + Math.min(window.height - 1, Math.floor(((y + 0.5) * window.height) / lh))
    const r0 = yTaps.i0[y] * midW * 3
    const r1 = yTaps.i1[y] * midW * 3
    const wv = yTaps.w[y]
    for (let x = 0; x < lw; x++) {
      const px = window.x + Math.min(window.width - 1, Math.floor(((x + 0.5) * window.width) / lw))
      if (mask.data[py * mask.width + px] !== 0) continue
      const a0 = xTaps.i0[x] * 3
      const a1 = xTaps.i1[x] * 3
      const wh = xTaps.w[x]
      const d = [0, 0, 0]
      for (let k = 0; k < 3; k++) {
        const top = mid[r0 + a0 + k] + (mid[r0 + a1 + k] - mid[r0 + a0 + k]) * wh
        const bottom = mid[r1 + a0 + k] + (mid[r1 + a1 + k] - mid[r1 + a0 + k]) * wh
        d[k] = (top + (bottom - top) * wv + 0.5) | 0
      }
      const a = Math.max(d[0], d[1], d[2])
      if (a === 0) continue
      const li = (y * lw + x) * 4
      data[li] = ((255 * (a - d[0])) / a + 0.5) | 0
      data[li + 1] = ((255 * (a - d[1])) / a + 0.5) | 0
      data[li + 2] = ((255 * (a - d[2])) / a + 0.5) | 0
      data[li + 3] = a
    }
  }
  return { width: lw, height: lh, channels: 4, data }
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
    const windowed = (await resizeRawImage({ width: content.width, height: content.height, channels: 1, data: small }, window.width, window.height, { kernel: 'mitchell' })).data
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
