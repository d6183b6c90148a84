/**
 * Training the shadow block through the hedge (scripts/train-through-hedge.ts): the loss judges the
 * mean of the shadows cast in each direction the model believes in, each mixed with the silhouette
 * prior, as `umbra shadow` shows it with no light given (pipeline.ts shadeSpread), against the
 * pair's real shadow.
 *
 * The turn back into the photo and the mix run here, outside the tfjs graph: the block's darkening
 * per direction goes in, the mix's loss and its gradient with respect to that darkening come out.
 * The trainer carries the gradient into the weights with the surrogate loss sum(darkening x
 * gradient), whose gradient it is. The gradient is turned into each direction's frame with the
 * forward turn: the transpose of the bilinear turn back, exact for quarter turns and up to the
 * interpolation elsewhere (tested).
 */
import { castAngleOf, castFrameRotation, mirrorColumns, rotateSquare } from '../cast-frame'
import { cropForModel, objectCoverage, SHADOW_FLOOR, type Rect } from '../pipeline'
import type { EvalSample } from '../evaluate'
import { shapePriorTerms, type ShapePrior } from '../shape-prior'

/** One pair as the pipeline prepares it, with the directions the hedge mixes and the truth at model resolution. */
export interface HedgePair {
  id: string
  /** S x S x 4: RGB 0-1 and the object's coverage (pipeline.ts cropForModel). */
  input: Float32Array
  /** S x S x 2: the attention block's maps from the pipeline's first pass. */
  attention: Float32Array
  /** S x S x 3: the photo with the object's shadow, cropped the same way. */
  truth: Float32Array
  /** S x S: the object-shadow mask's coverage. */
  shadowMask: Float32Array
  /** The hedge's directions (radians, photo pixels) and weights (summing to 1). */
  directions: { angle: number; weight: number }[]
  /** How much this pair's loss counts (default 1). */
  lossWeight?: number
}

/** A batch's block inputs turned into each pair's directions, with the prior's terms per direction. */
export interface TurnedBatch {
  /** One per direction, in order: the pair it belongs to (index in the batch), its angle and weight. */
  jobs: { pair: number; angle: number; weight: number }[]
  /** n x S x S x 4 and n x S x S x 2 (n = jobs.length): what the shadow block reads. */
  inputs: Float32Array
  maps: Float32Array
  /** shapePriorTerms per job: the mix is clip(gain x darkening + base). */
  terms: { gain: Float32Array; base: Float32Array }[]
}

/**
 * The pair with its shadow's own direction (castAngleOf on its masks) as the only one, its loss
 * counted `lossWeight` times: the shadow the block draws when the light is known (the user's),
 * which training through the hedge alone would let fade. null where its shadow is not visible.
 */
export function committedHedgePair(p: HedgePair, S: number, lossWeight: number): HedgePair | null {
  const angle = castAngleOf(objectCoverage(p.input, S), p.shadowMask, S)
  return angle === null ? null : { ...p, directions: [{ angle, weight: 1 }], lossWeight }
}

/** The pair mirrored left to right; its directions mirror too (angle a -> pi - a). */
export function mirrorHedgePair(p: HedgePair, S: number): HedgePair {
  const flip = (a: Float32Array, channels: number) => mirrorColumns(a, S, channels)
  return {
    id: p.id,
    input: flip(p.input, 4),
    attention: flip(p.attention, 2),
    truth: flip(p.truth, 3),
    shadowMask: flip(p.shadowMask, 1),
    directions: p.directions.map((d) => ({ angle: Math.PI - d.angle, weight: d.weight })),
    ...(p.lossWeight !== undefined ? { lossWeight: p.lossWeight } : {}),
  }
}

/** The block's inputs for every direction of every pair, turned as the pipeline turns them (shadeCasts). */
export function turnHedgeBatch(pairs: HedgePair[], S: number, prior: ShapePrior): TurnedBatch {
  const jobs = pairs.flatMap((p, pair) => p.directions.map((d) => ({ pair, angle: d.angle, weight: d.weight })))
  const inputs = new Float32Array(jobs.length * S * S * 4)
  const maps = new Float32Array(jobs.length * S * S * 2)
  const objects = pairs.map((p) => objectCoverage(p.input, S))
  const terms = jobs.map((job, j) => {
    const p = pairs[job.pair]
    const turn = castFrameRotation(job.angle)
    rotateSquare(p.input, S, 4, turn, 'clamp', inputs.subarray(j * S * S * 4, (j + 1) * S * S * 4))
    rotateSquare(p.attention, S, 2, turn, 'clamp', maps.subarray(j * S * S * 2, (j + 1) * S * S * 2))
    return shapePriorTerms(objects[job.pair], S, job.angle, prior)
  })
  return { jobs, inputs, maps, terms }
}

export interface HedgeLoss {
  /** Mean over the pairs of GRMSE + localWeight x LRMSE (0-1 scale), each times its lossWeight. */
  loss: number
  /** Each pair's GRMSE and LRMSE (0-1 scale). */
  perPair: { global: number; local: number }[]
  /** With `withGradient`: d(sum of the pairs' losses) / d(dark), n x S x S x 3 in the turned frames. */
  gradient: Float32Array | null
}

/**
 * The hedged mix of each pair from the block's darkening per direction `dark` (n x S x S x 3, in
 * the turned frames), composited as the pipeline does (noise floor removed, object pixels kept),
 * its loss and, with `withGradient`, the gradient of the summed loss with respect to `dark`.
 * The pair's loss is its GRMSE + localWeight x LRMSE, the issue's two numbers, so the weight given
 * to each is explicit; their square roots make each pair count as the metrics' means count it.
 */
export function hedgeMixLoss(pairs: HedgePair[], turned: TurnedBatch, dark: Float32Array, S: number, localWeight: number, withGradient: boolean): HedgeLoss {
  const N = S * S * 3
  const gradient = withGradient ? new Float32Array(dark.length) : null
  const perPair: HedgeLoss['perPair'] = []
  let lossSum = 0
  pairs.forEach((p, b) => {
    const mix = new Float32Array(N)
    const own = turned.jobs.flatMap((job, j) => (job.pair === b ? [{ job, j }] : []))
    const mixed = own.map(({ job, j }) => {
      const back = rotateSquare(dark.subarray(j * N, (j + 1) * N), S, 3, -castFrameRotation(job.angle), 'zero')
      const { gain, base } = turned.terms[j]
      const unclipped = new Uint8Array(N)
      for (let k = 0; k < N; k++) {
        const v = gain[(k / 3) | 0] * back[k] + base[k]
        unclipped[k] = v > 0 && v < 1 ? 1 : 0
        mix[k] += job.weight * (v < 0 ? 0 : v > 1 ? 1 : v)
      }
      return { j, job, gain, unclipped }
    })
    const scored = mixLossOf(p.input, p.truth, p.shadowMask, mix, S, localWeight, p.lossWeight ?? 1, withGradient)
    perPair.push({ global: scored.global, local: scored.local })
    lossSum += scored.loss
    if (!gradient) return
    const dMix = scored.dMix as Float32Array
    for (const { j, job, gain, unclipped } of mixed) {
      const dBack = new Float32Array(N)
      for (let k = 0; k < N; k++) if (unclipped[k]) dBack[k] = job.weight * gain[(k / 3) | 0] * dMix[k]
      rotateSquare(dBack, S, 3, castFrameRotation(job.angle), 'zero', gradient.subarray(j * N, (j + 1) * N))
    }
  })
  return { loss: lossSum / pairs.length, perPair, gradient }
}

/**
 * A pair's loss for its mixed darkening `mix` (S x S x 3, the photo frame), composited as the
 * pipeline does (noise floor removed, object pixels kept): `counts` x (GRMSE + localWeight x
 * LRMSE), 0-1 scale; their square roots make each pair count as the metrics' means count it. With
 * `withGradient`, dMix is the gradient of that loss with respect to `mix`.
 */
export function mixLossOf(input: Float32Array, truth: Float32Array, shadowMask: Float32Array, mix: Float32Array, S: number, localWeight: number, counts: number, withGradient: boolean): { global: number; local: number; loss: number; dMix: Float32Array | null } {
  const N = S * S * 3
  let se = 0, seLocal = 0, maskSum = 0
  const err = new Float32Array(N)
  const slope = new Float32Array(N)
  for (let i = 0; i < S * S; i++) {
    if (input[i * 4 + 3] > 0.5) continue
    const m = shadowMask[i]
    maskSum += m
    for (let c = 0; c < 3; c++) {
      const k = i * 3 + c
      const above = mix[k] > SHADOW_FLOOR
      const f = above ? (mix[k] - SHADOW_FLOOR) / (1 - SHADOW_FLOOR) : 0
      const ns = input[i * 4 + c]
      const e = ns * (1 - f) - truth[k]
      err[k] = e
      slope[k] = above ? -ns / (1 - SHADOW_FLOOR) : 0
      se += e * e
      seLocal += m * e * e
    }
  }
  const global = Math.sqrt(se / N)
  const local = maskSum > 0 ? Math.sqrt(seLocal / (3 * maskSum)) : 0
  const loss = counts * (global + localWeight * local)
  if (!withGradient) return { global, local, loss, dMix: null }
  // d sqrt(mse) / d mse = 1 / (2 sqrt(mse)).
  const cGlobal = global > 1e-9 ? counts / (2 * global * N) : 0
  const cLocal = local > 1e-9 ? (counts * localWeight) / (2 * local * 3 * maskSum) : 0
  const dMix = new Float32Array(N)
  for (let k = 0; k < N; k++) if (slope[k]) dMix[k] = 2 * err[k] * slope[k] * (cGlobal + cLocal * shadowMask[(k / 3) | 0])
  return { global, local, loss, dMix }
}

/**
 * One pair for training the direction output through the hedge (scripts/train-belief-through-hedge.ts),
 * the shadow block frozen: the pipeline's darkening cast in every direction bin is then fixed, so
 * it is computed once, and the hedge's mix is a weighted sum of those maps.
 */
export interface BeliefHedgePair {
  id: string
  /** S x S x 4 and S x S x 2: the model input and the attention block's maps (the head reads both). */
  input: Float32Array
  attention: Float32Array
  truth: Float32Array
  shadowMask: Float32Array
  /** bins x S x S x 3, 0-255: the pipeline's darkening (block and prior, shadeCasts) cast at each bin's angle. */
  castPerBin: Uint8Array
  /**
   * What the pipeline multiplies the head's belief by before the hedge (the light prior, the
   * object's shading, the strict scene reading: pipeline.ts weighBelief), per bin, up to a constant.
   */
  evidenceFactor: Float64Array
}

/**
 * The loss of the hedge with weights `weights` over the direction bins (summing to 1) for one
 * pair, mix = sum_b weights[b] x castPerBin[b], and its gradient with respect to the weights.
 */
export function beliefMixLoss(p: BeliefHedgePair, weights: ArrayLike<number>, S: number, localWeight: number): { global: number; local: number; loss: number; gradient: Float64Array } {
  const N = S * S * 3
  const bins = weights.length
  const mix = new Float32Array(N)
  for (let b = 0; b < bins; b++) {
    const w = weights[b] / 255
    if (w === 0) continue
    const cast = p.castPerBin.subarray(b * N, (b + 1) * N)
    for (let k = 0; k < N; k++) mix[k] += w * cast[k]
  }
  const scored = mixLossOf(p.input, p.truth, p.shadowMask, mix, S, localWeight, 1, true)
  const dMix = scored.dMix as Float32Array
  const gradient = new Float64Array(bins)
  for (let b = 0; b < bins; b++) {
    const cast = p.castPerBin.subarray(b * N, (b + 1) * N)
    let sum = 0
    for (let k = 0; k < N; k++) sum += dMix[k] * cast[k]
    gradient[b] = sum / 255
  }
  return { global: scored.global, local: scored.local, loss: scored.loss, gradient }
}

/**
 * A pair cropped as the pipeline crops its photo (cropForModel around the object's box `box`): the
 * model input (S x S x 4), the photo with the object's shadow (S x S x 3) and the object-shadow
 * mask's coverage (S x S), what both hedge trainers judge a mix against.
 */
export async function cropPairForModel(s: EvalSample, box: Rect, S: number): Promise<{ input: Float32Array; truth: Float32Array; shadowMask: Float32Array }> {
  const { batch: input } = await cropForModel(s.noShadow, s.object, box, S)
  const { batch: truthBatch } = await cropForModel(s.shadow, s.object, box, S)
  const { batch: maskBatch } = await cropForModel(s.noShadow, s.objectShadow, box, S)
  const truth = new Float32Array(S * S * 3)
  const shadowMask = new Float32Array(S * S)
  for (let i = 0; i < S * S; i++) {
    for (let c = 0; c < 3; c++) truth[i * 3 + c] = truthBatch[i * 4 + c]
    shadowMask[i] = maskBatch[i * 4 + 3]
  }
  return { input, truth, shadowMask }
}
