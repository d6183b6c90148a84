/**
 * The silhouette prior: the object's outline projected along the cast direction, mixed into the
 * shadow block's darkening.
 *
 * Why: given the direction, the shadow block draws a faint blur where it is unsure of the shadow's
 * extent (docs/model.md, tenth session), and a plain projection of the silhouette at a typical
 * length is about as good on its own (150 tuning pairs, the pair's own light: the projection 6.25 /
 * 32.74, the model 6.45 / 31.04, GRMSE / LRMSE). Their errors differ: the projection is sharp and
 * has the object's shape but a fixed length; the model knows the ground and the scene. Their mix
 * is better than either on both numbers (docs/model.md, eleventh session). It is applied per cast
 * direction, before the hedge averages them, so the user's steered light moves it with the model's
 * shadow.
 *
 * It belongs to a model: the manifest's `shapePrior` (model-dir.ts), written by
 * `scripts/fit-shape-prior.ts`, whose length and darkening are medians over training pairs and
 * whose two weights are chosen on the tuning split, never on held-out pairs or real photographs.
 * A model without one gets its own darkening alone.
 */

import { z } from 'zod'
import type { RawImage } from '../core/image'
import { estimateLight, projectSilhouette } from './baselines'
import { dilateMask, erodeMask } from '../core/mask-morph'

/** A model's silhouette prior, as its manifest keeps it (model-dir.ts `shapePrior`). */
export const shapePriorSchema = z.object({
  /** darkening = modelGain * model + weight * projection, clipped to [0, 1]. */
  modelGain: z.number().finite().nonnegative(),
  /** The projection's share (see modelGain). */
  weight: z.number().finite().nonnegative(),
  /** The shadow's reach per unit of object height (image pixels), from the foot: |k| of the geometric baseline. */
  lengthPerHeight: z.number().finite().positive(),
  /**
   * Optional: reaches spread over the training pairs' own (quantiles of their lengths). The
   * projection is then the mean of the projections at each, instead of one at lengthPerHeight:
   * dark at the foot, where every length covers, fading to where only the long ones reach.
   */
  lengthsPerHeight: z.array(z.number().finite().positive()).min(1).max(16).optional(),
  /** Per-channel darkening inside the projected silhouette (R, G, B): shadows are lit by the blue sky. */
  darkening: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1), z.number().min(0).max(1)]),
  /**
   * Optional: where a shadow on the ground can fall at all (castSupport). The shadow block's
   * darkening is multiplied by it before the mix, which removes the smear it can leave beside the
   * whole object (at head height beside a person lit from the side), far from any ground shadow.
   */
  support: z
    .object({
      /** The farthest reach, in object heights from the foot. */
      reachPerHeight: z.number().finite().positive().max(20),
      /** The lowest part of the object (a fraction of its height) whose every pixel sweeps the full reach: its footprint. */
      footBand: z.number().min(0).max(1),
      /** Also swept this many degrees to either side of the cast direction (the direction is an estimate). */
      spreadDeg: z.number().min(0).max(90),
      /** Soft edge, in model pixels: 1 on the swept region, fading to 0 at twice this distance from it. */
      softenPx: z.number().min(0).max(64),
    })
    .optional(),
  /**
   * Optional: how dark shadows are in this scene, read from the photo where the attention block sees
   * the occluders' shadows (readSceneDarkening), moves the darkening (the model's and the
   * projection's) from the medians towards it. Used only where the reading has enough pixels.
   */
  sceneDarkness: z
    .object({
      /** The occluder-shadow map's value from which a pixel counts as shadow. */
      threshold: z.number().min(0).max(1),
      /** The shadow is eroded by this many model pixels before it is read (its soft edge is left out). */
      erodePx: z.number().int().min(0).max(8),
      /** Its lit reference: the band from ringPx[0] to ringPx[1] model pixels around it. */
      ringPx: z.tuple([z.number().int().min(0).max(16), z.number().int().min(1).max(16)]),
      /** 0: the medians alone; 1: the reading alone. */
      blend: z.number().min(0).max(1),
      /** The fewest pixels in the shadow and in its band for a reading. */
      minPixels: z.number().int().min(1),
    })
    .optional(),
})

export type ShapePrior = z.infer<typeof shapePriorSchema>

/**
 * The projection's darkening (S x S x 3, in [0, 1]) for an object coverage mask (S x S, the model
 * input's channel 3) cast at `angle` (radians, image x right, y down).
 */
export function silhouetteDarkening(object: Float32Array, S: number, angle: number, prior: ShapePrior): Float32Array {
  const lengths = prior.lengthsPerHeight ?? [prior.lengthPerHeight]
  const matte = new Float32Array(S * S)
  for (const length of lengths) {
    const one = projectSilhouette(S, S, (i) => object[i] > 0.5, [length * Math.cos(angle), length * Math.sin(angle)])
    for (let i = 0; i < matte.length; i++) matte[i] += one[i] / lengths.length
  }
  const out = new Float32Array(S * S * 3)
  for (let i = 0; i < S * S; i++) {
    const m = matte[i]
    if (m <= 0) continue
    for (let c = 0; c < 3; c++) out[i * 3 + c] = prior.darkening[c] * m
  }
  return out
}

/**
 * Mixes the projection into the model's darkening (S x S x 3) for one direction, in place; returns
 * it. With `prior.support` the model's darkening is first kept to where a ground shadow can fall.
 */
export function mixShapePrior(darkening: Float32Array, object: Float32Array, S: number, angle: number, prior: ShapePrior): Float32Array {
  const { gain, base } = shapePriorTerms(object, S, angle, prior)
  for (let i = 0; i < darkening.length; i++) {
    const d = gain[(i / 3) | 0] * darkening[i] + base[i]
    darkening[i] = d < 0 ? 0 : d > 1 ? 1 : d
  }
  return darkening
}

/**
 * The mix of one direction as two maps: darkening = clip(gain x model + base), with gain (S x S) the
 * model gain inside the cast support and base (S x S x 3) the weighted projection. mixShapePrior
 * applies them; training with the prior in its loss (train/loop.ts) judges the same mix.
 */
export function shapePriorTerms(object: Float32Array, S: number, angle: number, prior: ShapePrior): { gain: Float32Array; base: Float32Array } {
  const support = prior.support ? castSupport(object, S, angle, prior.support) : null
  const gain = new Float32Array(S * S)
  for (let i = 0; i < gain.length; i++) gain[i] = prior.modelGain * (support ? support[i] : 1)
  const base = prior.weight > 0 ? silhouetteDarkening(object, S, angle, prior) : new Float32Array(S * S * 3)
  if (prior.weight !== 1) for (let i = 0; i < base.length; i++) base[i] *= prior.weight
  return { gain, base }
}

export type CastSupportSettings = NonNullable<ShapePrior['support']>
export type SceneDarknessSettings = NonNullable<ShapePrior['sceneDarkness']>

/**
 * The darkening (R, G, B) of the shadows the attention block sees in the model input (S x S x 4:
 * RGB, object; `attention` S x S x 2: occluders, occluder shadows): 1 - the median of each channel
 * well inside them over its median in a band around them, off the occluders and the object. A
 * scene's shadows share one sun and one sky, so the object's shadow is about as dark. null where
 * too few pixels show it.
 */
export function readSceneDarkening(batch: Float32Array, attention: Float32Array, S: number, settings: SceneDarknessSettings): [number, number, number] | null {
  const shadow = new Uint8Array(S * S)
  for (let i = 0; i < S * S; i++) shadow[i] = attention[i * 2 + 1] > settings.threshold ? 1 : 0
  const inside = erodeMask(shadow, S, S, settings.erodePx)
  const near = dilateMask(shadow, S, S, settings.ringPx[1])
  const close = dilateMask(shadow, S, S, settings.ringPx[0])
  const shadowed: number[][] = [[], [], []]
  const lit: number[][] = [[], [], []]
  for (let i = 0; i < S * S; i++) {
    if (attention[i * 2] > 0.5 || batch[i * 4 + 3] > 0.1) continue
    const into = inside[i] ? shadowed : near[i] && !close[i] ? lit : null
    if (into) for (let c = 0; c < 3; c++) into[c].push(batch[i * 4 + c])
  }
  if (shadowed[0].length < settings.minPixels || lit[0].length < settings.minPixels) return null
  const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1]
  const dark = (c: number) => Math.min(0.95, Math.max(0, 1 - median(shadowed[c]) / Math.max(1e-3, median(lit[c]))))
  return [dark(0), dark(1), dark(2)]
}

/** Per-channel factors for a darkening fitted to the medians, moved `blend` of the way to the scene's reading (each ratio kept within 0.5-2). */
export function sceneDarknessFactors(prior: ShapePrior, reading: [number, number, number]): [number, number, number] {
  const blend = prior.sceneDarkness?.blend ?? 0
  const factor = (c: number) => 1 + blend * (Math.min(2, Math.max(0.5, reading[c] / Math.max(1e-3, prior.darkening[c]))) - 1)
  return [factor(0), factor(1), factor(2)]
}

/**
 * Where a shadow cast at `angle` (radians, image x right, y down) on the ground can fall (S x S,
 * 0..1), in projectSilhouette's geometry: a pixel h rows above the object's foot row lands at
 * (x + h*L*cos a, foot + h*L*sin a) for a shadow L object heights long. As L runs from 0 to the
 * reach, that point draws a segment from (x, foot), and in each column the highest pixel draws the
 * longest, which holds the others: one segment per column. The object stands on a footprint, not on
 * its lowest row, so every pixel in its lowest `footBand` also sweeps the full reach from where it
 * is. Swept at the angle and `spreadDeg` to either side, then given a soft edge.
 */
export function castSupport(object: Float32Array, S: number, angle: number, settings: CastSupportSettings): Float32Array {
  const top = new Int32Array(S).fill(S)
  let foot = -1
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      if (object[y * S + x] > 0.5) {
        if (y < top[x]) top[x] = y
        foot = y
      }
    }
  }
  const swept = new Uint8Array(S * S)
  if (foot < 0) return new Float32Array(S * S)
  const highest = Math.min(...top)
  const height = foot - highest + 1
  const fullReach = height * settings.reachPerHeight
  const bandTop = Math.max(highest, Math.floor(foot - settings.footBand * height))
  const spread = (settings.spreadDeg * Math.PI) / 180
  const segment = (x: number, y: number, reach: number, c: number, s: number) => {
    const steps = Math.ceil(reach) + 1
    for (let k = 0; k <= steps; k++) {
      const t = (reach * k) / steps
      const px = Math.round(x + t * c)
      const py = Math.round(y + t * s)
      if (px < 0 || py < 0 || px >= S || py >= S) return // a straight line does not come back
      swept[py * S + px] = 1
    }
  }
  for (const a of spread > 0 ? [angle - spread, angle, angle + spread] : [angle]) {
    const c = Math.cos(a)
    const s = Math.sin(a)
    for (let x = 0; x < S; x++) if (top[x] < S) segment(x, foot, (foot - top[x] + 1) * settings.reachPerHeight, c, s)
    for (let y = bandTop; y <= foot; y++) for (let x = 0; x < S; x++) if (object[y * S + x] > 0.5) segment(x, y, fullReach, c, s)
  }
  return softEdge(swept, S, Math.round(settings.softenPx))
}

/** Dilation by a square of radius r, then a box mean of radius r: 1 on the set, fading to 0 at 2r from it. Running sums, O(S^2) per pass. */
function softEdge(set: Uint8Array, S: number, r: number): Float32Array {
  if (r <= 0) return Float32Array.from(set)
  const boxSum = (src: Float32Array, horizontal: boolean): Float32Array => {
    const dst = new Float32Array(S * S)
    for (let line = 0; line < S; line++) {
      const at = (i: number) => (horizontal ? line * S + i : i * S + line)
      let acc = 0
      for (let i = 0; i < Math.min(r, S); i++) acc += src[at(i)]
      for (let i = 0; i < S; i++) {
        if (i + r < S) acc += src[at(i + r)]
        if (i - r - 1 >= 0) acc -= src[at(i - r - 1)]
        dst[at(i)] = acc
      }
    }
    return dst
  }
  const sum = boxSum(boxSum(Float32Array.from(dilateMask(set, S, S, r)), true), false)
  // The mean over the window's pixels inside the frame, so a shadow running off the edge keeps 1 there.
  const span = Float32Array.from({ length: S }, (_, i) => Math.min(S - 1, i + r) - Math.max(0, i - r) + 1)
  for (let i = 0; i < sum.length; i++) sum[i] = Math.min(1, sum[i] / (span[i % S] * span[(i / S) | 0]))
  return sum
}

/**
 * The projection's length and darkening from pairs with their shadow: the medians of each pair's
 * own shadow (the geometric baseline's estimate run on the object, its shadow mask and the shadowed
 * photo). null when fewer than `minPairs` show their object's shadow. With `lengthQuantiles` > 0,
 * also that many quantiles of the lengths (lengthsPerHeight). Used to fit a model's prior
 * (scripts/fit-shape-prior.ts).
 */
export function shadowShapeOf(pairs: Iterable<{ shadow: RawImage; object: RawImage; objectShadow: RawImage }>, minPairs: number, lengthQuantiles = 0): (Pick<ShapePrior, 'lengthPerHeight' | 'lengthsPerHeight' | 'darkening'> & { pairs: number }) | null {
  const lengths: number[] = []
  const darks: number[][] = [[], [], []]
  for (const p of pairs) {
    const own = estimateLight(p.shadow, p.object, p.objectShadow)
    if (!own.fromScene) continue
    lengths.push(Math.hypot(own.k[0], own.k[1]))
    own.darkening.forEach((d, c) => darks[c].push(d))
  }
  if (lengths.length < minPairs) return null
  // quantile(0.5) is the median (the middle element, as the darkenings' medians take it).
  const quantile = (v: number[], f: number) => Number(v[Math.min(v.length - 1, Math.floor(f * v.length))].toFixed(3))
  const sorted = (v: number[]) => [...v].sort((a, b) => a - b)
  const byLength = sorted(lengths)
  // The quantiles at the middles of lengthQuantiles equal slices of the pairs.
  const spread = lengthQuantiles > 0 ? { lengthsPerHeight: Array.from({ length: lengthQuantiles }, (_, j) => quantile(byLength, (j + 0.5) / lengthQuantiles)) } : {}
  const median = (v: number[]) => quantile(sorted(v), 0.5)
  return { lengthPerHeight: quantile(byLength, 0.5), ...spread, darkening: [median(darks[0]), median(darks[1]), median(darks[2])], pairs: lengths.length }
}
