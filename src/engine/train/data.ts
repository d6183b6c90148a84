import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { PAIR_FILES, REQUIRED_PAIR_IMAGES } from '../../shared/pair-format'
import { decodeMask, decodeRgb, resizeRawImage, type RawImage } from '../../core/image'
import { UserError } from '../../core/errors'
import { TrainRng, hashString } from './rng'
import { castAngleOf, castFrameRotation, rotateSquare } from '../cast-frame'

/** Seeds from here on are the held-out evaluation split: never trained on. */
export const HELD_OUT_SEED_START = 9_000_000

/** One pair, decoded and resized to a square working resolution; values in [0,1]. */
export interface PairImages {
  id: string
  size: number
  /** size*size*3 each, interleaved RGB. */
  noShadow: Float32Array
  shadow: Float32Array
  /** size*size each (soft after resizing). */
  object: Float32Array
  objectShadow: Float32Array
  occluders: Float32Array
  occluderShadows: Float32Array
  /**
   * Whether the occluder / occluder-shadow masks are known (default true). User pairs for
   * fine-tuning may lack them: those channels are then left out of the attention loss instead of
   * being trained towards an invented (empty) mask.
   */
  attentionKnown?: [boolean, boolean]
}

export interface PairEntry {
  id: string
  dir: string
}

/**
 * Lists the complete samples of a pair folder: sub-folders holding every required image. Hidden
 * entries (temp folders of a writer still at work) and incomplete samples are skipped, so a folder
 * that is still growing can be read at any time. Samples whose meta.json carries a seed in the
 * held-out range are skipped too (unless includeHeldOut), so evaluation seeds never leak into training.
 */
export async function scanPairFolder(root: string, opts: { includeHeldOut?: boolean } = {}): Promise<PairEntry[]> {
  let names: string[]
  try {
    const stat = await fs.stat(root)
    if (!stat.isDirectory()) throw new UserError('NOT_A_FOLDER', `${root} is not a folder of pairs`)
    names = await fs.readdir(root)
  } catch (err) {
    if (err instanceof UserError) throw err
    throw new UserError('NOT_FOUND', `pair folder ${root} does not exist`)
  }
  names.sort()
  const out: PairEntry[] = []
  for (const name of names) {
    if (name.startsWith('.')) continue
    const dir = join(root, name)
    let files: Set<string>
    try {
      files = new Set(await fs.readdir(dir))
    } catch {
      continue // a plain file, or a folder that vanished meanwhile
    }
    if (!REQUIRED_PAIR_IMAGES.every((k) => files.has(PAIR_FILES[k]))) continue
    if (!opts.includeHeldOut && files.has(PAIR_FILES.meta)) {
      const seed = await readSeed(join(dir, PAIR_FILES.meta))
      if (seed !== undefined && seed >= HELD_OUT_SEED_START) continue
    }
    out.push({ id: name, dir })
  }
  return out
}

async function readSeed(metaPath: string): Promise<number | undefined> {
  try {
    const meta = JSON.parse(await fs.readFile(metaPath, 'utf8')) as { seed?: unknown }
    return typeof meta.seed === 'number' ? meta.seed : undefined
  } catch {
    return undefined
  }
}

export function toFloat(data: Uint8Array): Float32Array {
  const out = new Float32Array(data.length)
  for (let i = 0; i < data.length; i++) out[i] = data[i] / 255
  return out
}

/** Decodes one sample and resizes every image to size x size (checks that its images agree in size). */
export async function loadPair(entry: PairEntry, size: number): Promise<PairImages> {
  const p = (k: keyof typeof PAIR_FILES) => join(entry.dir, PAIR_FILES[k])
  const [noShadow, shadow, object, objectShadow, occluders, occluderShadows] = await Promise.all([
    decodeRgb(p('noShadow')),
    decodeRgb(p('shadow')),
    decodeMask(p('object'), 127),
    decodeMask(p('objectShadow'), 127),
    decodeMask(p('occluders'), 127),
    decodeMask(p('occluderShadows'), 127),
  ])
  for (const img of [shadow, object, objectShadow, occluders, occluderShadows]) {
    if (img.width !== noShadow.width || img.height !== noShadow.height) {
      throw new UserError('PAIR_SIZE_MISMATCH', `${entry.dir}: images differ in size (${img.width}x${img.height} vs ${noShadow.width}x${noShadow.height})`)
    }
  }
  const r = async (img: RawImage) => toFloat((await resizeRawImage(img, size, size)).data)
  const [a, b, c, d, e, f] = await Promise.all([r(noShadow), r(shadow), r(object), r(objectShadow), r(occluders), r(occluderShadows)])
  return { id: entry.id, size, noShadow: a, shadow: b, object: c, objectShadow: d, occluders: e, occluderShadows: f }
}

export interface AugmentOptions {
  /** Probability of a horizontal flip (the shadow flips with the scene, so the pair stays consistent). */
  flip: number
  /** Random zoom: crops a window of (1/zoom) of the side, zoom uniform in [1, maxZoom], kept around the object. */
  maxZoom: number
  /** Global brightness gain range and per-channel (white balance) gain spread. */
  brightness: [number, number]
  channelGain: number
  /** Gamma range (applied to both images; the darkening target is derived after it). */
  gamma: [number, number]
  /** Max std-dev of Gaussian sensor noise added to the model's input only. */
  noise: number
  /**
   * Rotate each example into the cast frame (its shadow falls straight down, see cast-frame.ts):
   * set from the model's `castFrame`, not an augmentation to switch per run.
   */
  castFrame?: boolean
  /**
   * Std-dev (radians) of the error added to the true cast angle before rotating: at inference the
   * angle is estimated from the scene, so the model learns to cope with a direction a little off
   * (0.14, about 8 degrees, by default).
   */
  castJitter?: number
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  flip: 0.5,
  maxZoom: 1.3,
  brightness: [0.65, 1.3],
  channelGain: 0.12,
  gamma: [0.8, 1.25],
  noise: 0.02,
  castJitter: 0.14,
}

export const NO_AUGMENT: AugmentOptions = { flip: 0, maxZoom: 1, brightness: [1, 1], channelGain: 0, gamma: [1, 1], noise: 0 }

/** The augmentation a model of this config trains with: the cast frame when the model expects it. */
export function augmentFor(base: AugmentOptions, config: { castFrame?: string }): AugmentOptions {
  return { ...base, castFrame: config.castFrame === 'down' }
}

/**
 * Rotates an example into the cast frame: its own shadow's direction (`angle`, null when its shadow
 * is hidden: a random one), plus the jitter, is turned to point down.
 */
export function rotateToCastFrame(ex: TrainExample, s: number, jitter: number, rng: TrainRng, angle = castAngleOf(ex.object, ex.objectShadow, s)): TrainExample {
  const turn = castFrameRotation((angle ?? rng.range(-Math.PI, Math.PI)) + (jitter > 0 ? jitter * rng.normal() : 0))
  const r = (a: Float32Array, c: number) => rotateSquare(a, s, c, turn)
  return {
    ...ex,
    input: r(ex.input, 4),
    noShadow: r(ex.noShadow, 3),
    shadow: r(ex.shadow, 3),
    attention: r(ex.attention, 2),
    objectShadow: r(ex.objectShadow, 1),
    object: r(ex.object, 1),
    cast: { turn, object: ex.object },
  }
}

/** One training example at model resolution S, ready to be stacked into a batch. */
export interface TrainExample {
  /** S*S*4: model input (RGB with noise + object mask). */
  input: Float32Array
  /** S*S*3: clean shadow-free RGB (the composite is built on it). */
  noShadow: Float32Array
  /** S*S*3: target RGB with the object's shadow. */
  shadow: Float32Array
  /** S*S*2: attention targets (occluders, occluder shadows). */
  attention: Float32Array
  /** S*S: object-shadow mask. */
  objectShadow: Float32Array
  /** S*S: object mask. */
  object: Float32Array
  /** Per attention channel: 1 = supervised, 0 = mask unknown (left out of the loss). Absent = both known. */
  attentionWeight?: [number, number]
  /**
   * Cast-frame examples: the same crop before it was turned, as the pipeline's first pass sees a
   * photo, with its attention targets and the unit vector (cos, sin) of its shadow's cast angle
   * (null when the object's shadow is hidden). Trains the attention block and the direction output.
   */
  view?: { input: Float32Array; attention: Float32Array; direction: [number, number] | null }
  /**
   * Cast-frame examples: the rotation that turned the crop (castFrameRotation of the cast angle
   * used, jitter included) and the object mask before it (S*S). A silhouette prior is cast in the
   * photo's frame, where the object stands upright, then turned with the crop (loop.ts priorTensors).
   */
  cast?: { turn: number; object: Float32Array }
}

/** Bounding box (inclusive, pixels) of mask values > 0.5, or null when empty. */
export function maskBox(mask: Float32Array, size: number): { x0: number; y0: number; x1: number; y1: number } | null {
  let x0 = size, y0 = size, x1 = -1, y1 = -1
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (mask[y * size + x] > 0.5) {
        if (x < x0) x0 = x
        if (x > x1) x1 = x
        if (y < y0) y0 = y
        if (y > y1) y1 = y
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1, y1 }
}

/**
 * Crops a window (zoom), resamples it to S (bilinear), flips, and applies the photometric
 * augmentation. The source images are at a working size >= S.
 */
export function makeExample(pair: PairImages, s: number, aug: AugmentOptions, rng: TrainRng): TrainExample {
  const src = pair.size
  const zoom = aug.maxZoom > 1 ? rng.range(1, aug.maxZoom) : 1
  const win = src / zoom
  // Keep the object (and as much of its shadow as the window allows) inside the crop.
  const box = maskBox(pair.object, src) ?? { x0: 0, y0: 0, x1: src - 1, y1: src - 1 }
  const pick = (lo: number, hi: number) => {
    // window start in [0, src-win], preferring starts that keep [lo, hi] inside
    const minStart = Math.max(0, hi + 1 - win)
    const maxStart = Math.min(src - win, lo)
    return minStart <= maxStart ? rng.range(minStart, maxStart) : (src - win) / 2
  }
  const ox = pick(box.x0, box.x1)
  const oy = pick(box.y0, box.y1)
  const flip = rng.chance(aug.flip)
  const scale = win / s

  const gain = rng.range(aug.brightness[0], aug.brightness[1])
  const gains = [0, 1, 2].map(() => gain * (1 + aug.channelGain * (rng.next() * 2 - 1)))
  const gamma = rng.range(aug.gamma[0], aug.gamma[1])
  const noise = aug.noise * rng.next()

  const n = s * s
  const ex: TrainExample = {
    input: new Float32Array(n * 4),
    noShadow: new Float32Array(n * 3),
    shadow: new Float32Array(n * 3),
    attention: new Float32Array(n * 2),
    objectShadow: new Float32Array(n),
    object: new Float32Array(n),
  }
  if (pair.attentionKnown) ex.attentionWeight = [pair.attentionKnown[0] ? 1 : 0, pair.attentionKnown[1] ? 1 : 0]
  const photometric = (v: number, c: number) => Math.pow(Math.min(1, v * gains[c]), gamma)
  for (let y = 0; y < s; y++) {
    const sy = Math.min(src - 1, Math.max(0, oy + (y + 0.5) * scale - 0.5))
    const y0 = Math.floor(sy)
    const y1 = Math.min(src - 1, y0 + 1)
    const fy = sy - y0
    for (let x = 0; x < s; x++) {
      const xx = flip ? s - 1 - x : x
      const sx = Math.min(src - 1, Math.max(0, ox + (xx + 0.5) * scale - 0.5))
      const x0 = Math.floor(sx)
      const x1 = Math.min(src - 1, x0 + 1)
      const fx = sx - x0
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy
      const i00 = y0 * src + x0, i01 = y0 * src + x1, i10 = y1 * src + x0, i11 = y1 * src + x1
      const bil = (a: Float32Array) => a[i00] * w00 + a[i01] * w01 + a[i10] * w10 + a[i11] * w11
      const bil3 = (a: Float32Array, c: number) => a[i00 * 3 + c] * w00 + a[i01 * 3 + c] * w01 + a[i10 * 3 + c] * w10 + a[i11 * 3 + c] * w11
      const o = y * s + x
      for (let c = 0; c < 3; c++) {
        const ns = photometric(bil3(pair.noShadow, c), c)
        const sh = photometric(bil3(pair.shadow, c), c)
        ex.noShadow[o * 3 + c] = ns
        ex.shadow[o * 3 + c] = sh
        ex.input[o * 4 + c] = noise > 0 ? Math.min(1, Math.max(0, ns + noise * rng.normal())) : ns
      }
      const obj = bil(pair.object) > 0.5 ? 1 : 0
      ex.object[o] = obj
      ex.input[o * 4 + 3] = obj
      ex.objectShadow[o] = bil(pair.objectShadow)
      ex.attention[o * 2] = bil(pair.occluders)
      ex.attention[o * 2 + 1] = bil(pair.occluderShadows)
    }
  }
  if (!aug.castFrame) return ex
  const angle = castAngleOf(ex.object, ex.objectShadow, s)
  return {
    ...rotateToCastFrame(ex, s, aug.castJitter ?? 0, rng, angle),
    view: { input: ex.input, attention: ex.attention, direction: angle === null ? null : [Math.cos(angle), Math.sin(angle)] },
  }
}

/**
 * The training set: a growing folder of pairs, rescanned now and then, split deterministically by
 * id into train and validation (the validation ids never train).
 */
export class PairDataset {
  private train: PairEntry[] = []
  private val: PairEntry[] = []
  private lastScan = 0
  readonly workSize: number
  /** The pair folders read (`root` may list several, comma-separated: e.g. two renderer versions). */
  readonly roots: string[]

  constructor(
    readonly root: string,
    readonly modelSize: number,
    /** Fraction of samples (by id hash) kept for validation, capped by maxVal. */
    readonly valFraction = 0.02,
    readonly maxVal = 64,
  ) {
    // Decode at a size a bit above S so zoom crops keep detail.
    this.workSize = Math.round(modelSize * 1.25)
    this.roots = root.split(',').map((r) => r.trim()).filter(Boolean)
  }

  get trainCount(): number {
    return this.train.length
  }

  get valEntries(): PairEntry[] {
    return this.val
  }

  async rescan(): Promise<void> {
    const all: PairEntry[] = []
    for (const r of this.roots) all.push(...(await scanPairFolder(r)))
    const train: PairEntry[] = []
    const val: PairEntry[] = []
    for (const e of all) {
      if ((hashString(e.id) % 10000) / 10000 < this.valFraction && val.length < this.maxVal) val.push(e)
      else train.push(e)
    }
    this.train = train
    this.val = val
    this.lastScan = Date.now()
  }

  /** Rescans when the last scan is older than `maxAgeMs` (new samples written meanwhile join in). */
  async maybeRescan(maxAgeMs: number): Promise<boolean> {
    if (Date.now() - this.lastScan < maxAgeMs) return false
    await this.rescan()
    return true
  }

  /** A random batch; a sample that fails to load (e.g. deleted meanwhile) is replaced by another. */
  async batch(n: number, rng: TrainRng, aug: AugmentOptions): Promise<TrainExample[]> {
    if (this.train.length === 0) throw new UserError('NO_PAIRS', `no complete training pairs in ${this.root}`)
    const picks = Array.from({ length: n }, () => this.train[rng.int(0, this.train.length - 1)])
    const seeds = picks.map(() => rng.uint())
    return Promise.all(
      picks.map(async (entry, i) => {
        const local = new TrainRng(seeds[i])
        for (let attempt = 0; ; attempt++) {
          try {
            const pair = await loadPair(attempt === 0 ? entry : this.train[local.int(0, this.train.length - 1)], this.workSize)
            return makeExample(pair, this.modelSize, aug, local)
          } catch (err) {
            if (attempt >= 3) throw err
          }
        }
      }),
    )
  }

  async valBatch(limit: number, aug: AugmentOptions = NO_AUGMENT): Promise<TrainExample[]> {
    const rng = new TrainRng(1)
    const entries = this.val.slice(0, limit)
    return Promise.all(entries.map(async (e) => makeExample(await loadPair(e, this.modelSize), this.modelSize, aug, rng)))
  }
}
