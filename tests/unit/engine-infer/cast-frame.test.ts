import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CAST_DOWN, DEFAULT_CAST_ANGLE, MAX_TRUSTED_DIRECTION_ERROR_DEG, MIN_DIRECTION_CONFIDENCE, MIN_LIGHT_PRIOR_PAIRS, MODEL_MAPS_ESTIMATE, angleDifference, applyLightPrior, fitLightPrior, castAngleOf, castFrameRotation, directionBinAngle, directionMode, directionPosterior, estimateCastAngle, hedgeDirections, mirrorColumns, mirroredBin, rotateSquare, shiftSquare } from '../../../src/engine/cast-frame'
import { makeExample, NO_AUGMENT, type PairImages } from '../../../src/engine/train/data'
import { TrainRng } from '../../../src/engine/train/rng'
import { createShadowEngine, type ShadowEngine } from '../../../src/engine/inference'
import { DIRECTION_VIEW_SHIFT, generateShadow, lightOriginOf, shadeCasts, steadyDirectionLogits } from '../../../src/engine/pipeline'
import type { RawImage } from '../../../src/core/image'
import { writeGeometricShadowModel } from '../../helpers/geometric-shadow-model'
import { greySceneWithPost } from './test-models'

const S = 32

/** A square s x s one-channel map with the rectangle [x0,x1) x [y0,y1) set to 1. */
function rect(s: number, x0: number, y0: number, x1: number, y1: number): Float32Array {
  const m = new Float32Array(s * s)
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * s + x] = 1
  return m
}

function centroid(m: Float32Array, s: number): [number, number] {
  let sx = 0, sy = 0, w = 0
  for (let i = 0; i < s * s; i++) {
    sx += (i % s) * m[i]
    sy += ((i / s) | 0) * m[i]
    w += m[i]
  }
  return [sx / w, sy / w]
}

describe('rotateSquare', () => {
  it('turns a vector at angle a to a + turn (y down) and back', () => {
    const src = rect(S, 16, 14, 26, 18) // a bar to the right of the centre
    const down = rotateSquare(src, S, 1, castFrameRotation(0)) // right -> down
    const [cx, cy] = centroid(down, S)
    expect(Math.abs(cx - 15.5)).toBeLessThan(2)
    expect(cy).toBeGreaterThan(19)
    const back = rotateSquare(down, S, 1, -castFrameRotation(0))
    const [bx, by] = centroid(back, S)
    expect(Math.abs(bx - 20.5)).toBeLessThan(1)
    expect(Math.abs(by - 15.5)).toBeLessThan(1)
  })

  it("'zero' leaves what lies outside the source empty; 'clamp' repeats the border", () => {
    const src = new Float32Array(S * S).fill(1)
    const zero = rotateSquare(src, S, 1, Math.PI / 4, 'zero')
    const clamp = rotateSquare(src, S, 1, Math.PI / 4, 'clamp')
    expect(zero[0]).toBe(0) // a corner comes from outside the source at 45 degrees
    expect(clamp[0]).toBe(1)
    expect(zero[(S / 2) * S + S / 2]).toBeCloseTo(1)
  })

  it('mirrorColumns and shiftSquare move whole pixels, channels together; shifts repeat the border', () => {
    // 3 x 3, two channels: (v, 10 v) with v = 0..8 row by row.
    const a = Float32Array.from({ length: 18 }, (_, i) => (i % 2 ? 10 : 1) * (i >> 1))
    const first = (x: Float32Array) => Array.from(x.filter((_, i) => i % 2 === 0))
    expect(first(mirrorColumns(a, 3, 2))).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6])
    expect(first(shiftSquare(a, 3, 2, 1, 0))).toEqual([0, 0, 1, 3, 3, 4, 6, 6, 7])
    expect(first(shiftSquare(a, 3, 2, 0, -1))).toEqual([3, 4, 5, 6, 7, 8, 6, 7, 8])
    expect(Array.from(shiftSquare(a, 3, 2, -1, 0).subarray(0, 6))).toEqual([1, 10, 2, 20, 2, 20])
    expect(mirrorColumns(mirrorColumns(a, 3, 2), 3, 2)).toEqual(a)
  })
})

describe('castAngleOf and the cast-frame training examples', () => {
  it('measures the direction foot -> shadow, and makeExample turns the shadow to point down', () => {
    const object = rect(S, 12, 6, 16, 16)
    const shadow = rect(S, 16, 13, 28, 16) // to the right along the ground
    expect(castAngleOf(object, shadow, S)).toBeCloseTo(Math.atan2(14 - 15, 21.5 - 13.5), 3)
    expect(castAngleOf(object, new Float32Array(S * S), S)).toBeNull()

    const rgb = (v: number) => new Float32Array(S * S * 3).fill(v)
    const sh = rgb(0.8)
    for (let i = 0; i < S * S; i++) if (shadow[i]) sh.fill(0.4, i * 3, i * 3 + 3)
    const pair: PairImages = { id: 'p', size: S, noShadow: rgb(0.8), shadow: sh, object, objectShadow: shadow, occluders: new Float32Array(S * S), occluderShadows: new Float32Array(S * S) }
    const ex = makeExample(pair, S, { ...NO_AUGMENT, castFrame: true }, new TrainRng(1))
    // (the foot is not re-measurable once the object lies on its side: compare centroids, which
    // before the turn were 31 degrees off the foot -> shadow direction)
    const [ox, oy] = centroid(ex.object, S)
    const [sx, sy] = centroid(ex.objectShadow, S)
    expect(Math.abs(Math.atan2(sy - oy, sx - ox) - CAST_DOWN)).toBeLessThan(0.6)
    // the composite target turned with it: the dark pixels are where the turned shadow mask is
    let inside = 0, outside = 0
    for (let i = 0; i < S * S; i++) {
      const dark = ex.noShadow[i * 3] - ex.shadow[i * 3]
      if (ex.objectShadow[i] > 0.5) inside += dark
      else outside += dark
    }
    expect(inside).toBeGreaterThan(5 * Math.max(outside, 0.01))
  })
})

describe('estimateCastAngle', () => {
  it("the direction posterior is the softmax of the cells' mean logits; its mode, confidence and hedge", () => {
    const bins = 16
    const cells = 4
    const logits = new Float32Array(2 * cells * bins)
    // sample 0: cells split between down (bin 4) and up (bin 12); sample 1: every cell says left (bin 8)
    for (let c = 0; c < cells; c++) {
      logits[c * bins + (c < 3 ? 4 : 12)] = 8
      logits[(cells + c) * bins + 8] = Math.log(115)
    }
    const p0 = directionPosterior(logits, bins, 2, 0)
    expect(p0.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9)
    expect(p0[4]).toBeGreaterThan(p0[12]) // mean logits 6 against 2
    expect(angleDifference(directionMode(p0).angle, Math.PI / 2)).toBeLessThan(1e-6)
    const left = directionMode(directionPosterior(logits, bins, 2, 1))
    expect(angleDifference(left.angle, Math.PI)).toBeLessThan(1e-6)
    expect(left.confidence).toBeCloseTo(117 / 130, 6) // the top bin and its neighbours
    expect(() => directionPosterior(logits, bins, 3)).toThrow(/directionPosterior/)
    expect(angleDifference(directionBinAngle(12, 16), -Math.PI / 2)).toBeLessThan(1e-9)
    // Two equal peaks, left and right: the hedge casts both ways, half each.
    const twoWays = new Float64Array(bins)
    twoWays[0] = twoWays[8] = 0.5
    const hedge = hedgeDirections(twoWays)
    expect(hedge.map((h) => h.weight)).toEqual([0.5, 0.5])
    expect(hedge.map((h) => Math.round((h.angle * 180) / Math.PI))).toEqual([0, 180])
    // Uniform: eight sectors of 45 degrees (the pass budget), 1/8 each, at the sectors' mean angles.
    const uniform = hedgeDirections(new Float64Array(bins).fill(1 / bins))
    expect(uniform).toHaveLength(8)
    expect(uniform[1].weight).toBeCloseTo(1 / 8, 9)
    expect((uniform[1].angle * 180) / Math.PI).toBeCloseTo(56.25, 6)
    // A peak across two sectors of the first pairing (bins 1 and 2, 22.5 and 45 degrees): the
    // sectors are paired the other way, so the peak is cast once at its mean angle, not twice.
    const between = new Float64Array(bins)
    between[1] = between[2] = 0.45
    between[9] = 0.1
    const aligned = hedgeDirections(between)
    expect(aligned.map((h) => Math.round(h.weight * 100))).toEqual([90, 10])
    expect((aligned[0].angle * 180) / Math.PI).toBeCloseTo(33.75, 6)
    // Every bin in exactly one sector, for bin counts the sectors do not divide.
    const odd = hedgeDirections(new Float64Array(15).fill(1 / 15), 8, 0)
    expect(odd.map((h) => Math.round(h.weight * 15)).sort()).toEqual([1, 2, 2, 2, 2, 2, 2, 2])
    expect(angleDifference(3, -3)).toBeCloseTo(2 * Math.PI - 6, 9)
  })

  it('reads the direction from an occluder and the shadow attached to it', () => {
    const att = new Float32Array(S * S * 2)
    const occ = rect(S, 4, 4, 7, 14)
    const sh = rect(S, 2, 12, 7, 20) // below-left of the occluder's foot
    for (let i = 0; i < S * S; i++) {
      att[i * 2] = occ[i]
      if (!occ[i]) att[i * 2 + 1] = sh[i]
    }
    const e = estimateCastAngle(att, new Float32Array(S * S), S)
    expect(e.source).toBe('scene')
    expect(e.angle).toBeGreaterThan(Math.PI / 2)
    expect(e.angle).toBeLessThan(Math.PI)
  })

  it('ignores a shadow-like blob far from every occluder and falls back to the default', () => {
    const att = new Float32Array(S * S * 2)
    const occ = rect(S, 2, 2, 5, 8)
    const far = rect(S, 20, 24, 30, 30)
    for (let i = 0; i < S * S; i++) {
      att[i * 2] = occ[i]
      att[i * 2 + 1] = far[i]
    }
    const e = estimateCastAngle(att, new Float32Array(S * S), S)
    expect(e.source).toBe('default')
    expect(e.angle).toBe(DEFAULT_CAST_ANGLE)
  })

  it('dark ground all round the foot pulls every way: the votes disagree and the default is used', () => {
    const att = new Float32Array(S * S * 2)
    const occ = rect(S, 14, 4, 18, 16)
    for (let i = 0; i < S * S; i++) {
      att[i * 2] = occ[i]
      if (!occ[i]) att[i * 2 + 1] = 1 // "shadow" everywhere
    }
    const e = estimateCastAngle(att, new Float32Array(S * S), S, { minAgreement: 0.5 })
    expect(e.agreement).toBeLessThan(0.5)
    expect(e.source).toBe('default')
  })
})

describe('the light prior of fine-tuning pairs', () => {
  const deg = (d: number) => (d * Math.PI) / 180
  it('fits one light to shadows that fall one way, and none to shadows that fall every way', () => {
    const studio = fitLightPrior([20, 25, 30, 35, 40, 28, 32, 30].map(deg))!
    expect(studio.angleDeg).toBeCloseTo(30, 0)
    expect(studio.pairs).toBe(8)
    // about 7 degrees of spread: a strong prior, within the cap
    expect(studio.kappa).toBeGreaterThan(10)
    expect(studio.kappa).toBeLessThanOrEqual(20)
    // Eight lights round the compass: R is 0, so is kappa. Random ones: the small-sample correction keeps it low.
    expect(fitLightPrior([0, 45, 90, 135, 180, 225, 270, 315].map(deg))!.kappa).toBeCloseTo(0, 6)
    expect(fitLightPrior([10, 100, 170, 260, 300, 40, 200, 130].map(deg))!.kappa).toBeLessThan(1)
    expect(fitLightPrior(Array.from({ length: MIN_LIGHT_PRIOR_PAIRS - 1 }, () => 0.5))).toBeNull()
    // Angles wrap: shadows either side of straight left average to left.
    expect(Math.abs(fitLightPrior([170, -170, 175, -175, 180, 178].map(deg))!.angleDeg)).toBeCloseTo(180, 0)
  })

  it('weighs the belief: left-or-right becomes the side the pairs cast to; kappa 0 changes nothing', () => {
    const belief = new Float64Array(16)
    belief[0] = 0.45
    belief[8] = 0.45
    for (const k of [4, 12]) belief[k] = 0.05
    const toLeft = applyLightPrior(belief, { angleDeg: 175, kappa: 4, pairs: 20 })
    expect(toLeft.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 12)
    expect(directionMode(toLeft).angle).toBeCloseTo(Math.PI, 1)
    expect(toLeft[8]).toBeGreaterThan(0.95)
    expect(Array.from(applyLightPrior(belief, { angleDeg: 175, kappa: 0, pairs: 20 }))).toEqual(Array.from(belief))
    // A belief with nothing where the prior points keeps its own shape (the product is renormalised, not forced).
    const onlyRight = new Float64Array(16)
    onlyRight[0] = 1
    expect(applyLightPrior(onlyRight, { angleDeg: 180, kappa: 20, pairs: 20 })[0]).toBeCloseTo(1, 12)
  })
})

/**
 * Attention maps (M x M x 2) as a user would paint them, sure to `p`: an occluder left of the
 * object whose shadow falls to its left (model-frame pixels: the 240 px photo maps onto 32 px).
 */
function leftShadowMaps(M: number, p: number): Float32Array {
  const m = new Float32Array(M * M * 2)
  const occ = rect(M, 4, 8, 7, 20)
  const sh = rect(M, 0, 17, 4, 20)
  for (let i = 0; i < M * M; i++) {
    m[i * 2] = occ[i] * p
    m[i * 2 + 1] = occ[i] ? 0 : sh[i] * p
  }
  return m
}

describe('generateShadow with a cast-frame model', () => {
  let dir: string
  let engine: ShadowEngine
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-cast-frame-'))
    await tf.setBackend('cpu')
    // The hand-set test model casts down its input; in the cast frame that is the given direction.
    await writeGeometricShadowModel(join(dir, 'm'), 32, { castFrame: true })
    engine = await createShadowEngine({ modelDir: join(dir, 'm'), runtime: 'onnx', threads: 1 })
  })
  afterAll(async () => {
    await engine?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  const width = 240
  const height = 240
  const scene = () => greySceneWithPost(width, height)
  /** Summed darkening in a box beside the object. */
  function darkIn(c: RawImage, x0: number, y0: number, x1: number, y1: number): number {
    let d = 0
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) d += 180 - c.data[(y * width + x) * 3]
    return d
  }

  it('casts the shadow the way it is told, and reports it', async () => {
    const right = await generateShadow(engine, scene(), { layer: false, castAngle: 0 })
    expect(right.cast).toEqual({ angle: 0, source: 'user' })
    const rightSide = darkIn(right.composite, 131, 100, 170, 140)
    const below = darkIn(right.composite, 110, 141, 130, 180)
    const leftSide = darkIn(right.composite, 70, 100, 109, 140)
    expect(rightSide).toBeGreaterThan(1000)
    expect(rightSide).toBeGreaterThan(4 * Math.max(below, leftSide, 1))

    const left = await generateShadow(engine, scene(), { layer: false, castAngle: Math.PI })
    expect(darkIn(left.composite, 70, 100, 109, 140)).toBeGreaterThan(4 * Math.max(darkIn(left.composite, 131, 100, 170, 140), 1))
  })

  it("reads the direction from painted maps when asked, and from the model's own maps only where they are sure", async () => {
    // Maps as a user would paint them: an occluder left of the object whose shadow falls to its left.
    const maps = (p: number) => leftShadowMaps(engine.size, p)
    const withMaps = (p: number): ShadowEngine => ({ ...engine, infer: async (b, n) => ({ ...(await engine.infer(b, n)), attention: maps(p) }) })
    const read = await generateShadow(withMaps(1), scene(), { layer: false, lightFromAttention: true })
    expect(read.cast?.source).toBe('scene')
    expect(Math.cos(read.cast!.angle)).toBeLessThan(-0.7) // pointing left
    expect(darkIn(read.composite, 70, 100, 109, 140)).toBeGreaterThan(4 * Math.max(darkIn(read.composite, 131, 100, 170, 140), 1))
    // The model's own maps, as sure as that: read the same way without being asked.
    const own = await generateShadow(withMaps(0.97), scene(), { layer: false })
    expect(own.cast?.source).toBe('scene')
    expect(Math.cos(own.cast!.angle)).toBeLessThan(-0.7)
    // Maps only 80% sure count when painted (threshold 0.5), not as the model's own (MODEL_MAPS_ESTIMATE).
    expect((await generateShadow(withMaps(0.8), scene(), { layer: false, lightFromAttention: true })).cast?.source).toBe('scene')
    expect(MODEL_MAPS_ESTIMATE.threshold).toBeGreaterThan(0.8)
    expect((await generateShadow(withMaps(0.8), scene(), { layer: false })).cast?.source).toBe('default')
    // A model whose maps were trained calibrated (attention positive cap 1) has them read at 0.5.
    const calibrated = (p: number): ShadowEngine => {
      const e = withMaps(p)
      return { ...e, manifest: { ...e.manifest, training: { dataCount: 1, steps: 1, wallTimeSeconds: 1, backend: 'wasm', attentionPositiveCap: 1 } } }
    }
    const fromCalibrated = await generateShadow(calibrated(0.8), scene(), { layer: false })
    expect(fromCalibrated.cast?.source).toBe('scene')
    expect(Math.cos(fromCalibrated.cast!.angle)).toBeLessThan(-0.7)
    expect((await generateShadow(calibrated(0.4), scene(), { layer: false })).cast?.source).not.toBe('scene')
  })

  /**
   * The pipeline with the crop's own direction output alone: the mocks below give one fixed belief
   * whatever crop they see, where a model's belief would mirror with a mirrored crop
   * (steadyDirectionLogits is tested on its own below).
   */
  const oneCrop: typeof generateShadow = (e, input, options = {}) => generateShadow(e, input, { steadyDirection: false, ...options })

  /** A direction output (16 bins) whose every cell has logit `logit` on each of `bins`, 0 elsewhere. */
  function binLogits(bins: number[], logit: number): Float32Array {
    const cells = 16
    const d = new Float32Array(cells * 16)
    for (let c = 0; c < cells; c++) for (const k of bins) d[c * 16 + k] = logit
    return d
  }

  it("uses the model's direction output: its mode when it is sure and validation vouches for it, else the mean shadow over its belief", async () => {
    const validated = (medianErrorDeg: number) => ({ ...engine.manifest, architecture: { ...engine.manifest.architecture, directionBins: 16 }, metrics: { validation: { direction: { medianErrorDeg, count: 32 } } } })
    const sure: ShadowEngine = { ...engine, manifest: validated(12), infer: async (b, n) => ({ ...(await engine.infer(b, n)), direction: binLogits([8], Math.log(115)) }) }
    const left = await oneCrop(sure, scene(), { layer: false })
    expect(left.cast?.source).toBe('model')
    expect(left.cast?.spread).toBeUndefined()
    expect(angleDifference(left.cast!.angle, Math.PI)).toBeLessThan(1e-6)
    expect(left.cast?.confidence).toBeCloseTo(117 / 130, 5)
    const leftDark = darkIn(left.composite, 70, 100, 109, 140)
    expect(leftDark).toBeGreaterThan(4 * Math.max(darkIn(left.composite, 131, 100, 170, 140), 1))
    // The user's light still wins over the model's guess.
    expect((await oneCrop(sure, scene(), { layer: false, castAngle: 0 })).cast).toEqual({ angle: 0, source: 'user' })

    // An output that validation found no better than chance does not pick the light, however sure
    // it is: its belief is hedged over (here all in one direction, so the same shadow).
    for (const manifest of [{ ...validated(12), metrics: {} }, validated(MAX_TRUSTED_DIRECTION_ERROR_DEG + 20)]) {
      const r = await oneCrop({ ...sure, manifest }, scene(), { layer: false })
      expect(r.cast?.spread).toHaveLength(1)
      expect(Math.abs(darkIn(r.composite, 70, 100, 109, 140) / leftDark - 1)).toBeLessThan(0.02)
    }

    // Unsure between left and right: half a shadow each way, nothing up or down.
    const twoWays: ShadowEngine = { ...sure, infer: async (b, n) => ({ ...(await engine.infer(b, n)), direction: binLogits([0, 8], 12) }) }
    const hedged = await oneCrop(twoWays, scene(), { layer: false })
    expect(hedged.cast?.confidence).toBeLessThan(MIN_DIRECTION_CONFIDENCE)
    expect(hedged.cast?.spread?.map((d) => d.weight)).toEqual([0.5, 0.5])
    const [l, r] = [darkIn(hedged.composite, 70, 100, 109, 140), darkIn(hedged.composite, 131, 100, 170, 140)]
    expect(l).toBeGreaterThan(0.3 * leftDark)
    expect(l).toBeLessThan(0.7 * leftDark)
    expect(r / l).toBeGreaterThan(0.6)
    expect(r / l).toBeLessThan(1.6)

    // A model fine-tuned on pairs lit from the left settles the same doubt: the shadow falls left.
    const studio: ShadowEngine = { ...twoWays, manifest: { ...twoWays.manifest, training: { ...(twoWays.manifest.training ?? { dataCount: 40, steps: 10, wallTimeSeconds: 1, backend: 'wasm' }), lightPrior: { angleDeg: 178, kappa: 8, pairs: 40 } } } }
    const studioShadow = await oneCrop(studio, scene(), { layer: false })
    expect(angleDifference(studioShadow.cast!.angle, Math.PI)).toBeLessThan(0.05)
    expect(darkIn(studioShadow.composite, 70, 100, 109, 140)).toBeGreaterThan(0.95 * leftDark)
    expect(darkIn(studioShadow.composite, 131, 100, 170, 140)).toBeLessThan(0.05 * leftDark)

    // Clear occluder shadows in the model's own maps weigh the belief instead of deciding: unsure
    // between left and right, the maps pointing left tip the hedge left; a belief sure of the
    // right keeps the right.
    const leftMaps = leftShadowMaps(engine.size, 1)
    // (a manifest with no validation: the hedge, whatever the belief's confidence)
    const withLeftMaps = (e: ShadowEngine): ShadowEngine => ({ ...e, manifest: { ...e.manifest, metrics: {} }, infer: async (b, n) => ({ ...(await e.infer(b, n)), attention: leftMaps }) })
    const tipped = await oneCrop(withLeftMaps(twoWays), scene(), { layer: false })
    expect(tipped.cast?.source).toBe('model')
    expect(Math.cos(tipped.cast!.sceneAngle!)).toBeLessThan(-0.7)
    const weightAt = (r: typeof tipped, a: number) => r.cast!.spread!.find((d) => angleDifference(d.angle, a) < 0.3)?.weight ?? 0
    expect(weightAt(tipped, Math.PI)).toBeGreaterThan(0.75)
    expect(weightAt(tipped, 0)).toBeLessThan(0.25)
    const sureRight: ShadowEngine = { ...twoWays, infer: async (b, n) => ({ ...(await engine.infer(b, n)), direction: binLogits([0], Math.log(400)) }) }
    const kept = await oneCrop(withLeftMaps(sureRight), scene(), { layer: false })
    expect(weightAt(kept, 0)).toBeGreaterThan(0.8)
    expect(kept.cast?.sceneAngle).toBeDefined()

    // The third session's two-vote output (no directionBins in the manifest) is ignored.
    const legacy = await oneCrop({ ...sure, manifest: { ...validated(12), architecture: engine.manifest.architecture } }, scene(), { layer: false })
    expect(legacy.cast?.source).toBe('default')
    expect(legacy.cast?.angle).toBe(DEFAULT_CAST_ANGLE)
  })

  it("weighs the belief by the object's shading: an object lit from the right casts its hedged shadow mostly left", async () => {
    const manifest = { ...engine.manifest, architecture: { ...engine.manifest.architecture, directionBins: 16 } }
    const twoWays: ShadowEngine = { ...engine, manifest, infer: async (b, n) => ({ ...(await engine.infer(b, n)), direction: binLogits([0, 8], 12) }) }
    const litFromRight = () => {
      const sc = scene()
      for (let y = 100; y < 140; y++) for (let x = 110; x < 130; x++) sc.image.data.fill(Math.round(120 + (120 * (x - 110)) / 19), (y * width + x) * 3, (y * width + x) * 3 + 3)
      return sc
    }
    const r = await oneCrop(twoWays, litFromRight(), { layer: false })
    expect(r.cast?.litFrom).toBe('right')
    const [leftWeight, rightWeight] = [Math.PI, 0].map((a) => r.cast!.spread!.find((d) => angleDifference(d.angle, a) < 0.3)?.weight ?? 0)
    expect(leftWeight).toBeGreaterThan(0.75)
    expect(leftWeight + rightWeight).toBeCloseTo(1, 6)
    expect(darkIn(r.composite, 70, 100, 109, 140)).toBeGreaterThan(3 * darkIn(r.composite, 131, 100, 170, 140))
    // A flat object leaves the doubt as it was, and names no side.
    const flat = await oneCrop(twoWays, scene(), { layer: false })
    expect(flat.cast?.spread?.map((d) => d.weight)).toEqual([0.5, 0.5])
    expect(flat.cast?.litFrom).toBeUndefined()
    // The user's light is not weighed by anything.
    expect((await oneCrop(twoWays, litFromRight(), { layer: false, castAngle: 0 })).cast).toEqual({ angle: 0, source: 'user' })
  })

  it('averages the direction over the crop, its mirror and four small shifts, mirroring the bins back', async () => {
    const bins = 16
    const cells = 4
    const seen: { n: number; inputs: Float32Array }[] = []
    /** A belief that the shadow falls away from the brighter half of the crop: mirrors with the crop, as a trained model's should. */
    const awayFromLight: ShadowEngine = {
      ...engine,
      infer: async (b, n) => {
        seen.push({ n, inputs: b })
        const S = engine.size
        const direction = new Float32Array(n * cells * bins)
        for (let i = 0; i < n; i++) {
          let left = 0, right = 0
          for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) (x < S / 2 ? (v: number) => (left += v) : (v: number) => (right += v))(b[((i * S + y) * S + x) * 4])
          const d = (10 * (left - right)) / (S * S)
          for (let c = 0; c < cells; c++) {
            direction[(i * cells + c) * bins + 0] = d // shadow to the right when the left is brighter
            direction[(i * cells + c) * bins + 8] = -d
            direction[(i * cells + c) * bins + 3] = c // a bin that only this crop's own cells set
          }
        }
        return { ...(await engine.infer(b, n)), direction }
      },
    }
    const S = engine.size
    const crop = new Float32Array(S * S * 4)
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) crop.fill(x < S / 2 ? 0.9 : 0.3, (y * S + x) * 4, (y * S + x) * 4 + 3)
    const own = (await awayFromLight.infer(crop, 1)).direction!
    seen.length = 0
    const steady = await steadyDirectionLogits(awayFromLight, crop, own, bins)
    // One batched pass over five views: the mirror, then the crop moved right, left, down and up.
    expect(seen.map((s) => s.n)).toEqual([5])
    const r = Math.max(1, Math.round(S * DIRECTION_VIEW_SHIFT))
    const view = (i: number) => seen[0].inputs.subarray(i * S * S * 4, (i + 1) * S * S * 4)
    expect(view(0)).toEqual(mirrorColumns(crop, S, 4))
    expect(view(1)).toEqual(shiftSquare(crop, S, 4, r, 0))
    expect(view(4)).toEqual(shiftSquare(crop, S, 4, 0, -r))
    // The mirrored view's belief (shadow to the left of its brighter right) comes back as the crop's.
    for (let c = 0; c < cells; c++) {
      expect(steady[c * bins + 0]).toBeGreaterThan(0.9 * own[c * bins + 0])
      expect(steady[c * bins + 8]).toBeLessThan(0.9 * own[c * bins + 8])
      // Bin 3 is set in every view; the mirror puts its copy in mirroredBin(3) = 5, averaged in at 1/6.
      expect(steady[c * bins + 3]).toBeCloseTo((5 * c) / 6, 5)
      expect(steady[c * bins + mirroredBin(3, bins)]).toBeCloseTo(c / 6, 5)
    }

    // In the pipeline: the five views with no light given, none with the user's light or when told not to.
    const manifest = { ...engine.manifest, architecture: { ...engine.manifest.architecture, directionBins: bins }, metrics: {} }
    const counted: ShadowEngine = { ...awayFromLight, manifest }
    /** Whether a pass after the first ran the views of the first pass's crop. */
    const viewsRan = () => seen.slice(1).some((s) => s.n === 5 && mirrorColumns(seen[0].inputs, S, 4).every((v, i) => v === s.inputs[i]))
    seen.length = 0
    await generateShadow(counted, scene(), { layer: false })
    expect(viewsRan()).toBe(true)
    for (const options of [{ castAngle: 0 }, { steadyDirection: false }]) {
      seen.length = 0
      await generateShadow(counted, scene(), { layer: false, ...options })
      expect(seen.length).toBeGreaterThan(0)
      expect(viewsRan()).toBe(false)
    }
  })

  it('averages each direction with the block on the mirrored input, mirrored back', async () => {
    const S = engine.size
    /** A block that darkens by column, x / S: not what a mirrored photo gets mirrored back. */
    const byColumn: ShadowEngine = {
      ...engine,
      infer: async (b, n) => {
        const darkening = new Float32Array(n * S * S * 3)
        for (let i = 0; i < n * S * S; i++) darkening.fill((i % S) / S, i * 3, i * 3 + 3)
        return { ...(await engine.infer(b, n)), darkening }
      },
    }
    const input = new Float32Array(S * S * 4).fill(0.5)
    const maps = new Float32Array(S * S * 2)
    const [one] = await shadeCasts(byColumn, input, maps, [CAST_DOWN], null, false)
    const [both] = await shadeCasts(byColumn, input, maps, [CAST_DOWN], null)
    for (const x of [0, 3, S - 1]) {
      expect(one[(5 * S + x) * 3]).toBeCloseTo(x / S, 5)
      expect(both[(5 * S + x) * 3]).toBeCloseTo((x / S + (S - 1 - x) / S) / 2, 5)
    }
  })

  it('with the sun in the photo and no light given, casts away from it, through the foot (towards the viewer)', async () => {
    // Dusk: a dark scene, a sun glow in the upper left, the post a little lighter than the ground.
    const { image, mask } = scene()
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const v = mask.data[y * width + x] ? 120 : 60 + 190 * Math.exp(-((x - 40) ** 2 + (y - 30) ** 2) / (2 * 15 * 15))
        image.data.fill(Math.round(v), (y * width + x) * 3, (y * width + x) * 3 + 3)
      }
    const r = await generateShadow(engine, { image, mask }, { layer: false })
    expect(r.cast?.source).toBe('sun')
    expect(Math.abs(r.cast!.sun!.x - 40)).toBeLessThan(3)
    expect(Math.abs(r.cast!.sun!.y - 30)).toBeLessThan(3)
    // From the sun (40, 30) through the post's foot (120, 140): down and to the right.
    expect(angleDifference(r.cast!.angle, Math.atan2(140 - 30, 120 - 40))).toBeLessThan(0.05)
    expect(lightOriginOf(r.cast)).toEqual({ kind: 'sun', sun: { x: Math.round(r.cast!.sun!.x), y: Math.round(r.cast!.sun!.y) } })
    const darkening = (x0: number, y0: number, x1: number, y1: number) => {
      let d = 0
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) d += image.data[(y * width + x) * 3] - r.composite.data[(y * width + x) * 3]
      return d
    }
    expect(darkening(121, 141, 175, 195)).toBeGreaterThan(300)
    expect(darkening(121, 141, 175, 195)).toBeGreaterThan(4 * Math.max(darkening(65, 141, 119, 195), darkening(65, 90, 109, 140), 1))
    // The user's light still decides.
    expect((await generateShadow(engine, { image, mask }, { layer: false, castAngle: Math.PI })).cast).toEqual({ angle: Math.PI, source: 'user' })
    // A direction output that validation does not vouch for: the sun decides before the belief, so
    // the belief's five views are not run (the first pass, then one direction and its mirror).
    const passes: number[] = []
    const manifest = { ...engine.manifest, architecture: { ...engine.manifest.architecture, directionBins: 16 }, metrics: {} }
    const withBelief: ShadowEngine = { ...engine, manifest, infer: async (b, n) => (passes.push(n), { ...(await engine.infer(b, n)), direction: new Float32Array(n * 16 * 16) }) }
    expect((await generateShadow(withBelief, { image, mask }, { layer: false })).cast?.source).toBe('sun')
    expect(passes).toEqual([1, 2])
  })

  it('without a direction and with no shadow in the scene, uses the default (right, a little down)', async () => {
    const r = await generateShadow(engine, scene(), { layer: false })
    expect(r.cast?.source).toBe('default')
    expect(darkIn(r.composite, 131, 100, 175, 150)).toBeGreaterThan(4 * Math.max(darkIn(r.composite, 65, 90, 109, 140), 1))
  })
})
