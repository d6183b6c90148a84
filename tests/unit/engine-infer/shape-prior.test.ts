import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { castSupport, mixShapePrior, readSceneDarkening, sceneDarknessFactors, shadowShapeOf, silhouetteDarkening, type CastSupportSettings, type SceneDarknessSettings, type ShapePrior } from '../../../src/engine/shape-prior'
import { projectSilhouette } from '../../../src/engine/baselines'
import { readModelManifest, verifyModelDir, writeShapePrior } from '../../../src/engine/model-dir'
import { createShadowEngine } from '../../../src/engine/inference'
import { generateShadow } from '../../../src/engine/pipeline'
import type { RawImage } from '../../../src/core/image'
import { writeGeometricShadowModel } from '../../helpers/geometric-shadow-model'
import { greySceneWithPost } from './test-models'

const S = 64
const PRIOR: ShapePrior = { modelGain: 0.9, weight: 0.3, lengthPerHeight: 1, darkening: [0.5, 0.4, 0.3] }

/** A 6 px wide, 20 px tall post standing on row 39 of an S x S coverage mask. */
function post(): Float32Array {
  const m = new Float32Array(S * S)
  for (let y = 20; y < 40; y++) for (let x = 29; x < 35; x++) m[y * S + x] = 1
  return m
}

/** Summed first-channel darkening in [x0,x1) x [y0,y1). */
function sumIn(d: Float32Array, x0: number, y0: number, x1: number, y1: number): number {
  let t = 0
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) t += d[(y * S + x) * 3]
  return t
}

describe('the silhouette prior (shape-prior.ts)', () => {
  it('projects the object from its foot along the cast direction, about lengthPerHeight heights long, with its per-channel darkening', () => {
    const right = silhouetteDarkening(post(), S, 0, PRIOR)
    // cast to the right (a ground seen edge-on: a thin band along the foot's row): the ground right
    // of the foot darkens, the left and the sky above do not
    expect(sumIn(right, 36, 34, 58, 44)).toBeGreaterThan(5)
    expect(sumIn(right, 0, 0, 22, S)).toBe(0)
    expect(sumIn(right, 0, 0, S, 12)).toBe(0)
    // reach: one object height (20 px) beyond the post, not twice that
    expect(sumIn(right, 48, 34, 56, 44)).toBeGreaterThan(0)
    expect(sumIn(right, 62, 0, S, S)).toBe(0)
    const down = silhouetteDarkening(post(), S, Math.PI / 2, PRIOR)
    expect(sumIn(down, 26, 41, 38, 62)).toBeGreaterThan(40)
    expect(sumIn(down, 42, 0, S, S)).toBe(0)
    // per-channel density: the prior's darkening where the shadow is solid
    let max = [0, 0, 0]
    for (let i = 0; i < S * S; i++) max = max.map((m, c) => Math.max(m, down[i * 3 + c]))
    expect(max[0]).toBeCloseTo(0.5, 1)
    expect(max[1] / max[0]).toBeCloseTo(0.8, 5)
    expect(max[2] / max[0]).toBeCloseTo(0.6, 5)

  })

  it('with several lengths, projects the mean of the projections at each: dark at the foot, fading to where only the long ones reach', () => {
    const lengths = [0.5, 1, 2]
    const spread = silhouetteDarkening(post(), S, Math.PI / 2, { ...PRIOR, lengthsPerHeight: lengths })
    const each = lengths.map((l) => silhouetteDarkening(post(), S, Math.PI / 2, { ...PRIOR, lengthPerHeight: l }))
    for (let i = 0; i < S * S * 3; i++) expect(spread[i]).toBeCloseTo((each[0][i] + each[1][i] + each[2][i]) / 3, 5)
    // lengthPerHeight (1) is not used when lengths are given: the longest reaches past it
    const one = silhouetteDarkening(post(), S, Math.PI / 2, PRIOR)
    expect(sumIn(spread, 26, 56, 38, S)).toBeGreaterThan(sumIn(one, 26, 56, 38, S))
    // just below the foot every length darkens, as much as one length alone; far down only the
    // longest does, a third as much
    const near = sumIn(spread, 29, 41, 35, 43) / 12
    const far = sumIn(spread, 29, 58, 35, 60) / 12
    expect(near).toBeGreaterThan(0.2)
    expect(Math.abs(near - sumIn(one, 29, 41, 35, 43) / 12)).toBeLessThan(0.05)
    expect(far).toBeGreaterThan(0.05)
    expect(far).toBeLessThan(near / 2)
  })

  it('mixes as gain * model + weight * projection, clipped to [0, 1]; weight 0 and gain 1 leave the model as it is', () => {
    const model = new Float32Array(S * S * 3).fill(0.2)
    const projected = silhouetteDarkening(post(), S, 0, PRIOR)
    const mixed = mixShapePrior(Float32Array.from(model), post(), S, 0, PRIOR)
    for (const i of [0, (38 * S + 45) * 3, (38 * S + 45) * 3 + 2]) expect(mixed[i]).toBeCloseTo(0.9 * 0.2 + 0.3 * projected[i], 6)
    expect(mixShapePrior(Float32Array.from(model), post(), S, 0, { ...PRIOR, modelGain: 1, weight: 0 })).toEqual(model)
    const strong = mixShapePrior(new Float32Array(S * S * 3).fill(0.9), post(), S, 0, { ...PRIOR, modelGain: 1, weight: 1 })
    expect(Math.max(...strong)).toBe(1)
  })
})

describe('where a ground shadow can fall (castSupport)', () => {
  const SUPPORT: CastSupportSettings = { reachPerHeight: 2, footBand: 0.25, spreadDeg: 0, softenPx: 0 }

  it('lit from the side: the ground beside the foot, not the air beside the top of the object', () => {
    const sup = castSupport(post(), S, 0, SUPPORT)
    // the foot row to the right, up to the reach (2 heights = 40 px from the foot)
    for (const x of [36, 45, 60]) expect(sup[39 * S + x]).toBe(1)
    // beside the post's top and middle, where the shadow block can leave a smear: nothing
    expect(sumIn(Float32Array.from({ length: S * S * 3 }, (_, i) => (i % 3 === 0 ? sup[i / 3] : 0)), 36, 18, S, 30)).toBe(0)
    // and nothing on the side the light comes from
    expect(sumIn(Float32Array.from({ length: S * S * 3 }, (_, i) => (i % 3 === 0 ? sup[i / 3] : 0)), 0, 0, 28, S)).toBe(0)
  })

  it('holds the projected silhouette at every length up to its reach, in any direction', () => {
    for (const angle of [0, 0.7, Math.PI / 2, 2.5, Math.PI, -0.5, -Math.PI / 2]) {
      // (the projection's matte is blurred by a pixel or two: its edge falls in the support's soft edge)
      const sup = castSupport(post(), S, angle, { ...SUPPORT, softenPx: 2 })
      for (const length of [0.3, 1, 1.9]) {
        const matte = projectSilhouette(S, S, (i) => post()[i] > 0.5, [length * Math.cos(angle), length * Math.sin(angle)])
        let missed = 0
        for (let i = 0; i < S * S; i++) if (matte[i] > 0.5 && sup[i] < 0.9) missed++
        expect(missed, `angle ${angle}, length ${length}`).toBe(0)
      }
    }
  })

  it('widens with the spread and the soft edge, and is empty without an object', () => {
    const narrow = castSupport(post(), S, Math.PI / 2, SUPPORT)
    const wide = castSupport(post(), S, Math.PI / 2, { ...SUPPORT, spreadDeg: 30, softenPx: 3 })
    let inNarrow = 0
    let inWide = 0
    for (let i = 0; i < S * S; i++) {
      inNarrow += narrow[i]
      inWide += wide[i]
      expect(wide[i]).toBeGreaterThanOrEqual(narrow[i])
      expect(wide[i]).toBeLessThanOrEqual(1)
    }
    expect(inWide).toBeGreaterThan(inNarrow * 1.5)
    expect(castSupport(new Float32Array(S * S), S, 0, SUPPORT).every((v) => v === 0)).toBe(true)
  })

  it('keeps the darkening of the model inside it before the mix; the projection is mixed in as before', () => {
    const model = new Float32Array(S * S * 3).fill(0.2)
    const withSupport = mixShapePrior(new Float32Array(model), post(), S, 0, { ...PRIOR, support: SUPPORT })
    const without = mixShapePrior(new Float32Array(model), post(), S, 0, PRIOR)
    const sup = castSupport(post(), S, 0, SUPPORT)
    const projected = silhouetteDarkening(post(), S, 0, PRIOR)
    let worst = 0
    for (let i = 0; i < S * S * 3; i++) {
      const expected = Math.min(1, PRIOR.modelGain * 0.2 * sup[(i / 3) | 0] + PRIOR.weight * projected[i])
      worst = Math.max(worst, Math.abs(withSupport[i] - expected))
    }
    expect(worst).toBeLessThan(1e-6)
    // the air above the post: darkened by the model alone before, not now
    expect(sumIn(without, 0, 0, S, 10)).toBeGreaterThan(10)
    expect(sumIn(withSupport, 0, 0, S, 10)).toBe(0)
  })
})

describe('how dark the scene\'s shadows are (readSceneDarkening)', () => {
  const SETTINGS: SceneDarknessSettings = { threshold: 0.5, erodePx: 2, ringPx: [2, 4], blend: 0.5, minPixels: 8 }
  /** A lit ground (0.8, 0.7, 0.6) with a 16 x 16 occluder shadow darkened by `dark`; the model input and its attention maps. */
  function scene(dark: [number, number, number]): { batch: Float32Array; attention: Float32Array } {
    const batch = new Float32Array(S * S * 4)
    const attention = new Float32Array(S * S * 2)
    const lit = [0.8, 0.7, 0.6]
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const i = y * S + x
        const inShadow = x >= 10 && x < 26 && y >= 30 && y < 46
        for (let c = 0; c < 3; c++) batch[i * 4 + c] = lit[c] * (inShadow ? 1 - dark[c] : 1)
        attention[i * 2 + 1] = inShadow ? 0.9 : 0.05
      }
    }
    return { batch, attention }
  }

  it('reads the darkening inside the shadows against the ground around them, per channel', () => {
    const { batch, attention } = scene([0.5, 0.4, 0.3])
    const read = readSceneDarkening(batch, attention, S, SETTINGS)!
    read.forEach((d, c) => expect(d).toBeCloseTo([0.5, 0.4, 0.3][c], 5))
  })

  it('leaves out the occluders and the object, and reads nothing where the shadow is too small', () => {
    const { batch, attention } = scene([0.5, 0.4, 0.3])
    // black occluders right of and below the shadow and the black object left of it: three quarters
    // of the band around the shadow (2-4 px out) pass through them, only its top side is ground
    const blacken = (x: number, y: number, channel: 'occluder' | 'object') => {
      if (channel === 'occluder') attention[(y * S + x) * 2] = 1
      else batch[(y * S + x) * 4 + 3] = 1
      for (let c = 0; c < 3; c++) batch[(y * S + x) * 4 + c] = 0
    }
    for (let y = 28; y < 52; y++) for (let x = 26; x < 32; x++) blacken(x, y, 'occluder')
    for (let y = 46; y < 52; y++) for (let x = 4; x < 26; x++) blacken(x, y, 'occluder')
    for (let y = 28; y < 46; y++) for (let x = 4; x < 10; x++) blacken(x, y, 'object')
    const read = readSceneDarkening(batch, attention, S, SETTINGS)!
    read.forEach((d, c) => expect(d).toBeCloseTo([0.5, 0.4, 0.3][c], 5))
    // a shadow of 4 x 4 pixels is nothing once eroded by 2
    const small = scene([0.5, 0.4, 0.3])
    for (let i = 0; i < S * S; i++) {
      const x = i % S
      const y = (i / S) | 0
      small.attention[i * 2 + 1] = x >= 10 && x < 14 && y >= 30 && y < 34 ? 0.9 : 0
    }
    expect(readSceneDarkening(small.batch, small.attention, S, SETTINGS)).toBeNull()
    // and no shadow at all
    expect(readSceneDarkening(small.batch, new Float32Array(S * S * 2), S, SETTINGS)).toBeNull()
  })

  it('moves the darkening blend of the way from the medians to the reading, each ratio within 0.5-2', () => {
    const prior: ShapePrior = { ...PRIOR, sceneDarkness: SETTINGS }
    expect(sceneDarknessFactors(prior, [0.5, 0.4, 0.3])).toEqual([1, 1, 1])
    const f = sceneDarknessFactors(prior, [0.75, 0.2, 0.9])
    expect(f[0]).toBeCloseTo(1.25, 6) // ratio 1.5
    expect(f[1]).toBeCloseTo(0.75, 6) // ratio 0.5
    expect(f[2]).toBeCloseTo(1.5, 6) // ratio 3, kept at 2
    expect(sceneDarknessFactors({ ...prior, sceneDarkness: { ...SETTINGS, blend: 0 } }, [0.75, 0.2, 0.9])).toEqual([1, 1, 1])
  })
})

describe('the prior fitted from pairs (shadowShapeOf)', () => {
  /** A pair: the post, its shadow cast down `length` object heights, the photo darkened by 40% there. */
  function pairWithShadowOf(length: number): { shadow: RawImage; object: RawImage; objectShadow: RawImage } {
    const object = post()
    const matte = projectSilhouette(S, S, (i) => object[i] > 0.5, [0, length])
    const mask = (f: (i: number) => boolean): RawImage => ({ width: S, height: S, channels: 1, data: Uint8Array.from({ length: S * S }, (_, i) => (f(i) ? 255 : 0)) })
    const inShadow = (i: number) => matte[i] > 0.5 && object[i] <= 0.5
    const shadow: RawImage = { width: S, height: S, channels: 3, data: Uint8Array.from({ length: S * S * 3 }, (_, j) => (inShadow((j / 3) | 0) ? 120 : 200)) }
    return { shadow, object: mask((i) => object[i] > 0.5), objectShadow: mask(inShadow) }
  }

  it('gives the median length and, when asked, quantiles of the pairs\' lengths in order; none from too few pairs', () => {
    const lengths = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]
    const pairs = lengths.map(pairWithShadowOf)
    const plain = shadowShapeOf(pairs, 5)
    expect(plain?.pairs).toBe(10)
    expect(plain?.lengthsPerHeight).toBeUndefined()
    const spread = shadowShapeOf(pairs, 5, 4)!
    expect(spread.lengthsPerHeight).toHaveLength(4)
    const q = spread.lengthsPerHeight!
    for (let j = 1; j < q.length; j++) expect(q[j]).toBeGreaterThan(q[j - 1])
    // the pairs' own lengths are measured from their masks: the quantiles bracket the median
    expect(q[0]).toBeLessThan(spread.lengthPerHeight)
    expect(q[3]).toBeGreaterThan(spread.lengthPerHeight)
    expect(q[3] / q[0]).toBeGreaterThan(2)
    expect(shadowShapeOf(pairs.slice(0, 3), 5, 4)).toBeNull()
  })
})

describe('a model folder with a silhouette prior', () => {
  let dir: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'umbra-shape-prior-'))
    await tf.setBackend('cpu')
    await writeGeometricShadowModel(join(dir, 'm'), 32, { castFrame: true })
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const width = 240
  const height = 240
  const scene = () => greySceneWithPost(width, height)
  const darkening = (c: RawImage) => c.data.reduce((t, v) => t + (180 - v), 0)

  it('keeps its weights and checksums when the prior is written, and the pipeline mixes it in unless told not to', async () => {
    const m = join(dir, 'm')
    const weightsBefore = readFileSync(join(m, 'weights.bin'))
    const without = await createShadowEngine({ modelDir: m, runtime: 'onnx', threads: 1 })
    const plain = await generateShadow(without, scene(), { layer: false, castAngle: 0 })
    await without.dispose()

    await writeShapePrior(m, PRIOR)
    expect((await readModelManifest(m)).shapePrior).toEqual(PRIOR)
    await verifyModelDir(m) // the files still match their checksums
    expect(readFileSync(join(m, 'weights.bin'))).toEqual(weightsBefore)

    const engine = await createShadowEngine({ modelDir: m, runtime: 'onnx', threads: 1 })
    try {
      const mixed = await generateShadow(engine, scene(), { layer: false, castAngle: 0 })
      const off = await generateShadow(engine, scene(), { layer: false, castAngle: 0, shapePrior: null })
      expect(off.composite.data).toEqual(plain.composite.data)
      expect(mixed.composite.data).not.toEqual(plain.composite.data)
      expect(darkening(mixed.composite)).toBeGreaterThan(0)
    } finally {
      await engine.dispose()
    }
    await writeShapePrior(m, null)
    expect((await readModelManifest(m)).shapePrior).toBeUndefined()
  })

  it('with a support, the pipeline keeps the shadow on the ground in the direction given and takes off what falls beside the object higher up', async () => {
    // The test model casts the object's whole silhouette along the direction, as onto a wall: cast
    // right, it darkens beside the post (x 110-129, y 100-139) from its foot up past its top. A
    // ground shadow starts at the foot. (At 32 px one model pixel is 7.5 photo pixels: the support's
    // soft edge fades over ~15 photo pixels.)
    const m = join(dir, 'm')
    const modelOnly: ShapePrior = { ...PRIOR, modelGain: 1, weight: 0 }
    const support = { reachPerHeight: 2, footBand: 0.3, spreadDeg: 20, softenPx: 1 }
    const depth = (c: RawImage, x: number, y: number) => 180 - c.data[(y * width + x) * 3]
    const total = (c: RawImage, x0: number, y0: number, x1: number, y1: number) => {
      let t = 0
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) t += depth(c, x, y)
      return t
    }
    const engine = await createShadowEngine({ modelDir: m, runtime: 'onnx', threads: 1 })
    try {
      for (const angle of [0, Math.PI / 2]) {
        const plain = (await generateShadow(engine, scene(), { layer: false, castAngle: angle, shapePrior: modelOnly })).composite
        const kept = (await generateShadow(engine, scene(), { layer: false, castAngle: angle, shapePrior: { ...modelOnly, support } })).composite
        // on the ground past the foot, in the direction cast: every pixel as dark as without the support
        const [gx0, gy0, gx1, gy1] = angle === 0 ? [135, 130, 165, 142] : [112, 145, 128, 175]
        expect(total(plain, gx0, gy0, gx1, gy1), `angle ${angle}`).toBeGreaterThan(1000)
        for (let y = gy0; y < gy1; y++) for (let x = gx0; x < gx1; x++) expect(depth(kept, x, y), `angle ${angle} at ${x},${y}`).toBeGreaterThanOrEqual(depth(plain, x, y) - 1)
      }
      // cast right, beside the top of the post: most of the darkening is gone
      const plain = (await generateShadow(engine, scene(), { layer: false, castAngle: 0, shapePrior: modelOnly })).composite
      const kept = (await generateShadow(engine, scene(), { layer: false, castAngle: 0, shapePrior: { ...modelOnly, support } })).composite
      expect(total(plain, 130, 86, 165, 96)).toBeGreaterThan(1000)
      expect(total(kept, 130, 86, 165, 96)).toBeLessThan(0.35 * total(plain, 130, 86, 165, 96))
    } finally {
      await engine.dispose()
    }
  })

  it('refuses a prior with a darkening outside [0, 1]', async () => {
    await expect(writeShapePrior(join(dir, 'm'), { ...PRIOR, darkening: [1.5, 0.4, 0.3] })).rejects.toThrow()
  })
})
