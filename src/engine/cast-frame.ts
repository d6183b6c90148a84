/**
 * The cast frame: the model sees the scene rotated so that the object's shadow falls straight down
 * its input (+y), whatever the light.
 *
 * Why: a shadow's direction is one number for the whole scene, but a U-Net has to learn to read it
 * from the other shadows and carry it across the image, and until it has, the loss is lowest when it
 * hedges with a faint darkening all round the object (measured: after 3,800 steps the image-frame
 * model darkened 16% of the local error away on synthetic pairs, and almost nothing on real photos).
 * With the direction taken out, the model only learns the shadow's shape, length, softness and
 * density, and the direction becomes an input that the app can estimate (from the scene's other
 * shadows, as the attention block finds them) or that the user can steer.
 *
 * Direction convention (image pixels, x right, y down): the angle of the vector from the object's
 * foot (mean x of its lowest tenth, at its lowest row) to the centroid of its shadow, atan2(dy, dx).
 * The training pairs give it exactly; at inference it comes from the user (a steered light), from
 * attention maps (estimateCastAngle: reliable on true or user-painted maps, not yet on the model's
 * own), or is DEFAULT_CAST_ANGLE.
 */

import { connectedComponents, footPoint } from './baselines'

/** Where the shadow points in the model's input: straight down. */
export const CAST_DOWN = Math.PI / 2

/**
 * Used when the scene shows no shadow to copy: light from the upper left, so the shadow falls to the
 * right and a little toward the viewer (the convention of drawings and product shots); the same
 * direction as the geometric baseline's default.
 */
export const DEFAULT_CAST_ANGLE = Math.atan2(0.1, 0.3)

/** Rotation (radians) that turns a shadow cast at `castAngle` into one cast straight down. */
export function castFrameRotation(castAngle: number): number {
  return CAST_DOWN - castAngle
}

/**
 * Rotates a square s x s image with `channels` interleaved channels by `angle` radians about its
 * centre (a vector at angle a ends at a + angle; y down), bilinear. Outside the source, 'clamp'
 * repeats its border (rotated inputs: the corners continue the ground instead of showing black) and
 * 'zero' gives 0 (a rotated-back shadow: nothing was predicted for what the model did not see).
 */
export function rotateSquare(src: Float32Array, s: number, channels: number, angle: number, outside: 'clamp' | 'zero' = 'clamp', out = new Float32Array(src.length)): Float32Array {
  if (src.length !== s * s * channels) throw new Error(`rotateSquare: ${src.length} values for ${s}x${s}x${channels}`)
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const c = (s - 1) / 2
  const max = s - 1
  for (let y = 0; y < s; y++) {
    const v = y - c
    for (let x = 0; x < s; x++) {
      const u = x - c
      // inverse rotation: the source point that lands on (x, y)
      let sx = c + u * cos + v * sin
      let sy = c - u * sin + v * cos
      if (outside === 'zero' && (sx < -0.5 || sy < -0.5 || sx > max + 0.5 || sy > max + 0.5)) {
        out.fill(0, (y * s + x) * channels, (y * s + x + 1) * channels)
        continue
      }
      sx = sx < 0 ? 0 : sx > max ? max : sx
      sy = sy < 0 ? 0 : sy > max ? max : sy
      const x0 = Math.floor(sx)
      const y0 = Math.floor(sy)
      const x1 = x0 < max ? x0 + 1 : x0
      const y1 = y0 < max ? y0 + 1 : y0
      const fx = sx - x0
      const fy = sy - y0
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy
      const i00 = (y0 * s + x0) * channels, i01 = (y0 * s + x1) * channels, i10 = (y1 * s + x0) * channels, i11 = (y1 * s + x1) * channels
      const o = (y * s + x) * channels
      for (let k = 0; k < channels; k++) out[o + k] = src[i00 + k] * w00 + src[i01 + k] * w01 + src[i10 + k] * w10 + src[i11 + k] * w11
    }
  }
  return out
}

/** An S x S image of `channels` channels (row-major, interleaved) mirrored left to right. */
export function mirrorColumns(a: Float32Array, S: number, channels: number): Float32Array {
  const o = new Float32Array(a.length)
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) o.set(a.subarray((y * S + S - 1 - x) * channels, (y * S + S - x) * channels), (y * S + x) * channels)
  return o
}

/** An S x S image of `channels` channels moved by (dx, dy) whole pixels (right and down), its border repeated into the gap. */
export function shiftSquare(a: Float32Array, S: number, channels: number, dx: number, dy: number): Float32Array {
  const o = new Float32Array(a.length)
  for (let y = 0; y < S; y++) {
    const sy = Math.min(S - 1, Math.max(0, y - dy))
    for (let x = 0; x < S; x++) {
      const sx = Math.min(S - 1, Math.max(0, x - dx))
      o.set(a.subarray((sy * S + sx) * channels, (sy * S + sx + 1) * channels), (y * S + x) * channels)
    }
  }
  return o
}

/** The bin a direction bin goes to when the photo is mirrored left to right (angle a -> pi - a). */
export function mirroredBin(k: number, bins: number): number {
  return (((bins / 2 - k) % bins) + bins) % bins
}

/** Foot point of a soft mask (values > 0.5): mean x of its lowest tenth, at its lowest row; null when empty. */
export function footOf(mask: Float32Array, s: number, stride = 1, offset = 0): [number, number] | null {
  let y0 = -1, y1 = -1
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      if (mask[(y * s + x) * stride + offset] > 0.5) {
        if (y0 < 0) y0 = y
        y1 = y
        break
      }
    }
  }
  if (y1 < 0) return null
  const band = Math.max(1, Math.round((y1 - y0 + 1) * 0.1))
  let sx = 0, n = 0
  for (let y = y1 - band + 1; y <= y1; y++) {
    for (let x = 0; x < s; x++) {
      if (mask[(y * s + x) * stride + offset] > 0.5) {
        sx += x
        n++
      }
    }
  }
  return [sx / n, y1]
}

/**
 * The cast angle of an object's own shadow (training pairs): foot -> centroid of the shadow pixels
 * outside the object. Null when the object or too little of its shadow is visible.
 */
export function castAngleOf(object: Float32Array, objectShadow: Float32Array, s: number, minShadowPixels = 8): number | null {
  const foot = footOf(object, s)
  if (!foot) return null
  let sx = 0, sy = 0, w = 0
  for (let i = 0; i < s * s; i++) {
    const v = objectShadow[i]
    if (v > 0.5 && object[i] <= 0.5) {
      sx += i % s
      sy += (i / s) | 0
      w++
    }
  }
  if (w < minShadowPixels) return null
  const dx = sx / w - foot[0]
  const dy = sy / w - foot[1]
  if (Math.hypot(dx, dy) < 0.5) return null
  return Math.atan2(dy, dx)
}

/**
 * Votes must agree at least this much (half of their pull surviving the sum) for the scene's
 * direction to be used; chosen a priori as "a clear majority", not fitted to any test set.
 */
export const MIN_CAST_AGREEMENT = 0.5

/**
 * estimateCastAngle's settings for the model's own (predicted) attention maps, stricter than for
 * painted ones: only confident shadow pixels count (the attention block over-predicts: about twice
 * the true occluder-shadow area), and the votes must nearly all agree. Chosen on held-out synthetic
 * pairs 0-199 (threshold 0.7/0.9, gate 0.5-0.85) and checked on pairs 250-499 with the cast model of
 * the third session: the scene decided 62 of 250 with a median error of 21 degrees (25 from the
 * true masks), the other 188 kept the default. On the 8 real-dev photos it is not reliable yet
 * (2 of 3, then 0 of 2 decisions right with two models of that session: docs/model.md).
 */
export const MODEL_MAPS_ESTIMATE = { threshold: 0.9, minAgreement: 0.85 } as const

/**
 * The same for maps trained calibrated (`umbra train --attention-pos-cap 1`: an output of p means
 * a chance of about p), where "more likely than not" is the natural cut and 0.9 keeps almost
 * nothing. Checked on a tuning split of fresh seeds (9,500,000-9,500,299, never trained on or
 * reported) with the sixth session's calibrated model: the scene decided 98 of 300 pairs at 0.5
 * (median error 22 degrees, 70 within 45) against 0 at 0.9.
 */
export const CALIBRATED_MAPS_ESTIMATE = { ...MODEL_MAPS_ESTIMATE, threshold: 0.5 } as const

/**
 * How much the strict reading of a model's own maps weighs its direction belief: the belief is
 * multiplied by a von Mises of this concentration around the reading (1: about 60 degrees wide),
 * instead of the reading deciding alone. Since the thirteenth session the belief is the better
 * guess: where the reading decided (101 of 300 tuning pairs, fifteenth session) a quarter of its
 * directions were off by more than 58 degrees and 15 by more than 90, and a wrong single shadow
 * costs more than a hedged one. On the tuning split (9,500,000-9,500,299), hedged GRMSE / LRMSE /
 * BER: the reading deciding 6.45 / 33.50 / 30.90, ignored 6.19 / 33.21 / 30.59, as evidence at
 * 0.5 6.19 / 33.16 / 30.42, at 1 6.19 / 33.14 / 30.33, at 2 6.22 / 33.21 / 30.39.
 */
export const SCENE_READING_KAPPA = 1

/** How to read a model's own maps: by how its attention loss weighed positives in training. */
export function modelMapsEstimate(training: { attentionPositiveCap?: number } | null | undefined): { threshold: number; minAgreement: number } {
  return (training?.attentionPositiveCap ?? 10) <= 1 ? CALIBRATED_MAPS_ESTIMATE : MODEL_MAPS_ESTIMATE
}

export interface CastEstimate {
  /** Cast angle in the model input's frame (the same as the photo's: x right, y down). */
  angle: number
  /** 'scene': read from occluder shadows; 'default': none, or none that agreed: DEFAULT_CAST_ANGLE. */
  source: 'scene' | 'default'
  /** How many occluders voted (some may have, and still disagreed too much: source 'default'). */
  pairs: number
  /**
   * Agreement of the votes, 0-1: the length of the summed pulls over their total weight (1 = all
   * the same way). Below `minAgreement` the default is used instead.
   */
  agreement: number
}

/**
 * The direction the scene's light casts shadows, from the attention maps (occluders and their
 * shadows, probabilities in [0,1], s x s x 2 interleaved) and the object mask (s x s, excluded
 * from the occluders). Shadows start at the feet of the things that cast them, so each occluder
 * looks only around its own foot: every pixel within 0.6 of its height from the foot (outside
 * occluders and the object) pulls the occluder's vote towards itself by its shadow probability.
 * A false "shadow" far away (dark texture, a road) does not count; one that surrounds the foot
 * pulls every way and cancels out. Votes are summed over occluders; `agreement` is how much of
 * the pull survives (1 = all one way). Below `minAgreement`, or with no vote, the default.
 */
export function estimateCastAngle(attention: Float32Array, object: Float32Array, s: number, opts: { threshold?: number; minAgreement?: number } = {}): CastEstimate {
  const threshold = opts.threshold ?? 0.5
  const minAgreement = opts.minAgreement ?? MIN_CAST_AGREEMENT
  const n = s * s
  if (attention.length !== n * 2 || object.length !== n) throw new Error('estimateCastAngle: map sizes do not match')
  const occ = new Uint8Array(n)
  for (let i = 0; i < n; i++) if (object[i] <= 0.5 && attention[i * 2] > threshold) occ[i] = 1
  const occluders = connectedComponents({ width: s, height: s, channels: 1, data: occ }, Math.max(4, Math.round(n * 0.0005)))
  let vx = 0, vy = 0, wsum = 0, pairs = 0
  for (const o of occluders) {
    const h = o.y1 - o.y0 + 1
    if (h < 3) continue
    const [fx, fy] = footPoint(o, s)
    const r = Math.max(3, 0.6 * h)
    let ox = 0, oy = 0, ow = 0
    for (let y = Math.max(0, Math.floor(fy - r)); y <= Math.min(s - 1, Math.ceil(fy + r)); y++) {
      for (let x = Math.max(0, Math.floor(fx - r)); x <= Math.min(s - 1, Math.ceil(fx + r)); x++) {
        const i = y * s + x
        if (occ[i] || object[i] > 0.5) continue
        const p = attention[i * 2 + 1]
        if (p <= threshold) continue
        const dx = x - fx, dy = y - fy
        const d = Math.hypot(dx, dy)
        if (d < 1 || d > r) continue
        ox += (p * dx) / d
        oy += (p * dy) / d
        ow += p
      }
    }
    if (ow < 2) continue // less than a couple of pixels of shadow at this foot
    vx += ox
    vy += oy
    wsum += ow
    pairs++
  }
  const agreement = wsum > 0 ? Math.hypot(vx, vy) / wsum : 0
  if (pairs === 0 || agreement < Math.max(minAgreement, 1e-6)) return { angle: DEFAULT_CAST_ANGLE, source: 'default', pairs, agreement }
  return { angle: Math.atan2(vy, vx), source: 'scene', pairs, agreement }
}

/** Centre (radians, image frame: 0 = right, pi/2 = down) of direction bin k of `bins`. */
export function directionBinAngle(k: number, bins: number): number {
  return (2 * Math.PI * k) / bins
}

/**
 * A model's direction output (`samples` x cells x `bins` logits, see architecture.ts
 * directionBins), sample i: the softmax of the cells' mean logits, the model's belief about which
 * way the shadow falls. Trained toward a soft label around the true direction (losses.ts viewLoss),
 * so it stays spread where the crop does not show the light, and splits where it shows only the
 * axis (left or right).
 */
export function directionPosterior(logits: Float32Array, bins: number, samples = 1, i = 0): Float64Array {
  const cells = logits.length / (bins * samples)
  if (!Number.isInteger(bins) || bins < 2 || !Number.isInteger(cells) || cells < 1 || i < 0 || i >= samples) {
    throw new Error(`directionPosterior: ${logits.length} values do not hold sample ${i} of ${samples} with ${bins} bins`)
  }
  const mean = new Float64Array(bins)
  const o = i * cells * bins
  for (let c = 0; c < cells; c++) for (let k = 0; k < bins; k++) mean[k] += logits[o + c * bins + k] / cells
  const top = Math.max(...mean)
  let sum = 0
  for (let k = 0; k < bins; k++) sum += mean[k] = Math.exp(mean[k] - top)
  for (let k = 0; k < bins; k++) mean[k] /= sum
  return mean
}

/**
 * The most probable direction of a posterior: its top bin, refined by the weighted circular mean
 * of that bin and its two neighbours, and `confidence`, the probability of those three bins (the
 * direction within about a bin and a half; a uniform posterior over 16 bins gives 0.19).
 */
export function directionMode(posterior: Float64Array): { angle: number; confidence: number } {
  const bins = posterior.length
  let best = 0
  for (let k = 1; k < bins; k++) if (posterior[k] > posterior[best]) best = k
  const { angle, weight } = binsMean(posterior, [best - 1, best, best + 1])
  return { angle, confidence: weight }
}

/** The probability-weighted circular mean angle of some bins of a posterior (indices wrap), and their total probability. */
function binsMean(posterior: Float64Array, ks: number[]): { angle: number; weight: number } {
  const bins = posterior.length
  let x = 0, y = 0, weight = 0
  for (const k of ks) {
    const j = ((k % bins) + bins) % bins
    x += posterior[j] * Math.cos(directionBinAngle(j, bins))
    y += posterior[j] * Math.sin(directionBinAngle(j, bins))
    weight += posterior[j]
  }
  return { angle: Math.atan2(y, x), weight }
}

/**
 * The directions to average a shadow over when the light is not known (Bayes: under squared
 * error the best single answer is the expected shadow): the posterior's bins merged in adjacent
 * pairs into `sectors` (8 by default, 45 degrees each, to bound the passes), each at its
 * probability-weighted mean angle; sectors under `minWeight` are dropped and the rest renormalised.
 * The pairing (bins 0-1, 2-3, ... or 1-2, 3-4, ...) is the one whose heaviest sector is heaviest.
 */
export function hedgeDirections(posterior: Float64Array, sectors = 8, minWeight = 0.05): { angle: number; weight: number }[] {
  const bins = posterior.length
  const per = Math.max(1, Math.round(bins / sectors))
  const out: { angle: number; weight: number }[] = []
  // Sector s holds bins offset + s x per onwards (indices wrap; the last one is shorter when per
  // does not divide bins), so every bin is in exactly one sector.
  const sectorBins = (offset: number) => Array.from({ length: Math.ceil(bins / per) }, (_, s) => Array.from({ length: Math.min(per, bins - s * per) }, (_, i) => offset + s * per + i))
  // The pairing that keeps the most probable sector whole, so that a belief peaked between two bins
  // of different sectors is cast once, at its weighted mean angle, not as two weaker shadows up to
  // 45 degrees apart (ties keep the first pairing).
  let offset = 0
  let heaviest = -1
  for (let o = 0; o < per; o++) {
    for (const ks of sectorBins(o)) {
      const w = ks.reduce((a, k) => a + posterior[k % bins], 0)
      if (w > heaviest + 1e-12) {
        heaviest = w
        offset = o
      }
    }
  }
  for (const ks of sectorBins(offset)) {
    const sector = binsMean(posterior, ks)
    if (sector.weight >= minWeight) out.push(sector)
  }
  if (out.length === 0) return [directionMode(posterior)].map((m) => ({ angle: m.angle, weight: 1 }))
  const total = out.reduce((a, d) => a + d.weight, 0)
  return out.map((d) => ({ angle: d.angle, weight: d.weight / total }))
}

/**
 * Below this confidence (directionMode: the probability that the direction is within about a bin
 * and a half of the mode) the pipeline does not take the model's mode as the light: it is more
 * likely wrong than right. Chosen a priori like MIN_CAST_AGREEMENT, not fitted to a test set.
 */
export const MIN_DIRECTION_CONFIDENCE = 0.5

/**
 * The pipeline uses a model's direction output only when the model's own training validation
 * (manifest metrics.validation.direction, at least 16 pairs) put its median error at most this many
 * degrees: an output that has not learned can still be confidently wrong (measured: the third
 * session's head, median error 90 degrees on validation, passed the confidence gate on 3 of 250
 * held-out pairs, all wrong).
 */
export const MAX_TRUSTED_DIRECTION_ERROR_DEG = 30

export function directionOutputTrusted(metrics: Record<string, unknown>): boolean {
  const d = (metrics.validation as { direction?: { medianErrorDeg?: unknown; count?: unknown } } | undefined)?.direction
  return typeof d?.medianErrorDeg === 'number' && typeof d.count === 'number' && d.count >= 16 && d.medianErrorDeg <= MAX_TRUSTED_DIRECTION_ERROR_DEG
}

/**
 * The light of the pairs a model was fine-tuned on (manifest training.lightPrior): a von Mises
 * distribution over the image-space cast angle. A studio's pairs share one key light, so their
 * shadows fall one way; a set shot under many lights gives a kappa near 0 (no preference).
 */
export interface LightPrior {
  /** Mean cast angle, degrees (0 = right, 90 = down, in photo pixels). */
  angleDeg: number
  /** Concentration: 0 = uniform; 4 is about 30 degrees of spread, 10 about 18. */
  kappa: number
  /** Pairs whose shadow gave a direction. */
  pairs: number
}

/** Fewer pairs with a visible shadow than this fit no prior: a handful of shots is not a studio's light. */
export const MIN_LIGHT_PRIOR_PAIRS = 6

/** The strongest prior fitted (about 13 degrees of spread): the pairs' own foot-to-centroid angles carry errors of that order. */
const MAX_LIGHT_PRIOR_KAPPA = 20

/**
 * Fits a LightPrior to cast angles (radians) by the mean resultant length R and the usual
 * approximation of the inverse of A1 (Fisher, Statistical Analysis of Circular Data, 1993, eq.
 * 4.40), with Best and Fisher's correction for small samples (R of a few random angles is far from
 * 0). null below MIN_LIGHT_PRIOR_PAIRS angles.
 */
export function fitLightPrior(angles: number[]): LightPrior | null {
  const n = angles.length
  if (n < MIN_LIGHT_PRIOR_PAIRS) return null
  const x = angles.reduce((a, t) => a + Math.cos(t), 0) / n
  const y = angles.reduce((a, t) => a + Math.sin(t), 0) / n
  const r = Math.min(Math.hypot(x, y), 0.9999)
  let kappa = r < 0.53 ? 2 * r + r ** 3 + (5 * r ** 5) / 6 : r < 0.85 ? -0.4 + 1.39 * r + 0.43 / (1 - r) : 1 / (r ** 3 - 4 * r ** 2 + 3 * r)
  if (n < 15) kappa = kappa < 2 ? Math.max(kappa - 2 / (n * kappa), 0) : ((n - 1) ** 3 * kappa) / (n ** 3 + n)
  return { angleDeg: (Math.atan2(y, x) * 180) / Math.PI, kappa: Math.min(kappa, MAX_LIGHT_PRIOR_KAPPA), pairs: n }
}

/** The posterior over direction bins times the prior's density at each bin, renormalised. */
export function applyLightPrior(posterior: Float64Array, prior: LightPrior): Float64Array {
  return weighByVonMises(posterior, (prior.angleDeg * Math.PI) / 180, prior.kappa)
}

/**
 * The posterior over direction bins times a von Mises density around `mu` (radians) with
 * concentration `kappa`, renormalised; the posterior itself where the product vanishes.
 */
export function weighByVonMises(posterior: Float64Array, mu: number, kappa: number): Float64Array {
  const bins = posterior.length
  const out = new Float64Array(bins)
  let sum = 0
  // exp(kappa (cos - 1)) is the density up to a constant, and stays finite for any kappa.
  for (let k = 0; k < bins; k++) sum += out[k] = posterior[k] * Math.exp(kappa * (Math.cos(directionBinAngle(k, bins) - mu) - 1))
  if (!(sum > 0)) return posterior
  for (let k = 0; k < bins; k++) out[k] /= sum
  return out
}

/** Absolute difference of two angles (radians), in [0, pi]. */
export function angleDifference(a: number, b: number): number {
  return Math.abs(Math.atan2(Math.sin(a - b), Math.cos(a - b)))
}
