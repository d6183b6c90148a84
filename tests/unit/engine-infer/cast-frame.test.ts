import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CAST_DOWN, DEFAULT_CAST_ANGLE, MAX_TRUSTED_DIRECTION_ERROR_DEG, MIN_DIRECTION_CONFIDENCE, MODEL_MAPS_ESTIMATE, angleDifference, castAngleOf, castFrameRotation, directionVote, estimateCastAngle, rotateSquare } from '../../../src/engine/cast-frame'
import { makeExample, NO_AUGMENT, type PairImages } from '../../../src/engine/train/data'
import { TrainRng } from '../../../src/engine/train/rng'
import { createShadowEngine, type ShadowEngine } from '../../../src/engine/inference'
import { generateShadow } from '../../../src/engine/pipeline'
import type { RawImage } from '../../../src/core/image'
import { writeGeometricShadowModel } from '../../helpers/geometric-shadow-model'

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
  it("the direction vote is the mean of the pixels' (cos, sin) votes; opposing votes cancel", () => {
    const d = new Float32Array(4 * 4 * 2)
    for (let i = 0; i < 16; i++) {
      const a = i < 12 ? Math.PI / 2 : -Math.PI / 2 // 12 pixels vote down, 4 up
      d[i * 2] = Math.cos(a)
      d[i * 2 + 1] = Math.sin(a)
    }
    const v = directionVote(d)
    expect(angleDifference(v.angle, Math.PI / 2)).toBeLessThan(1e-6)
    expect(v.confidence).toBeCloseTo(0.5, 6)
    const right = Array.from({ length: 16 }, () => [1, 0]).flat()
    expect(directionVote(new Float32Array([...d, ...right]), 2, 1)).toEqual({ angle: 0, confidence: 1 }) // second sample of a batch
    expect(() => directionVote(d, 3)).toThrow(/directionVote/)
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
  function scene(): { image: RawImage; mask: RawImage } {
    const image: RawImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(180) }
    const mask: RawImage = { width, height, channels: 1, data: new Uint8Array(width * height) }
    for (let y = 100; y < 140; y++) for (let x = 110; x < 130; x++) mask.data[y * width + x] = 255
    return { image, mask }
  }
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
    const M = engine.size
    const maps = (p: number) => {
      const m = new Float32Array(M * M * 2)
      const occ = rect(M, 4, 8, 7, 20) // model-frame pixels (the 240 px photo maps onto 32 px)
      const sh = rect(M, 0, 17, 4, 20)
      for (let i = 0; i < M * M; i++) {
        m[i * 2] = occ[i] * p
        m[i * 2 + 1] = occ[i] ? 0 : sh[i] * p
      }
      return m
    }
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
  })

  /** A direction output whose every pixel votes (len cos a, len sin a). */
  function votes(angle: number, length: number): Float32Array {
    const M = engine.size
    const d = new Float32Array(M * M * 2)
    for (let i = 0; i < M * M; i++) {
      d[i * 2] = length * Math.cos(angle)
      d[i * 2 + 1] = length * Math.sin(angle)
    }
    return d
  }

  it("uses the model's own direction output when it is sure and its validation vouches for it, the default otherwise", async () => {
    const validated = (medianErrorDeg: number) => ({ ...engine.manifest, metrics: { validation: { direction: { medianErrorDeg, count: 32 } } } })
    const sure: ShadowEngine = { ...engine, manifest: validated(12), infer: async (b, n) => ({ ...(await engine.infer(b, n)), direction: votes(Math.PI, 0.9) }) }
    const left = await generateShadow(sure, scene(), { layer: false })
    expect(left.cast?.source).toBe('model')
    expect(angleDifference(left.cast!.angle, Math.PI)).toBeLessThan(1e-6)
    expect(left.cast?.confidence).toBeCloseTo(0.9, 5)
    expect(darkIn(left.composite, 70, 100, 109, 140)).toBeGreaterThan(4 * Math.max(darkIn(left.composite, 131, 100, 170, 140), 1))
    // The user's light still wins over the model's guess.
    expect((await generateShadow(sure, scene(), { layer: false, castAngle: 0 })).cast).toEqual({ angle: 0, source: 'user' })

    // An output that validation found no better than chance is not used, however sure it is.
    for (const manifest of [engine.manifest, validated(MAX_TRUSTED_DIRECTION_ERROR_DEG + 20)]) {
      expect((await generateShadow({ ...sure, manifest }, scene(), { layer: false })).cast?.source).toBe('default')
    }

    const unsure: ShadowEngine = { ...sure, infer: async (b, n) => ({ ...(await engine.infer(b, n)), direction: votes(Math.PI, MIN_DIRECTION_CONFIDENCE * 0.6) }) }
    const fallback = await generateShadow(unsure, scene(), { layer: false })
    expect(fallback.cast?.source).toBe('default')
    expect(fallback.cast?.angle).toBe(DEFAULT_CAST_ANGLE)
    expect(fallback.cast?.confidence).toBeCloseTo(MIN_DIRECTION_CONFIDENCE * 0.6, 5)
  })

  it('without a direction and with no shadow in the scene, uses the default (right, a little down)', async () => {
    const r = await generateShadow(engine, scene(), { layer: false })
    expect(r.cast?.source).toBe('default')
    expect(darkIn(r.composite, 131, 100, 175, 150)).toBeGreaterThan(4 * Math.max(darkIn(r.composite, 65, 90, 109, 140), 1))
  })
})
