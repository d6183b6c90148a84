import { describe, expect, it } from 'vitest'
import type { Tensor4D } from '@tensorflow/tfjs'
import type { RawImage } from '../../../src/core/image'
import { balancedErrorRate, computeSampleMetrics, meanMetrics, predictedShadowRegion, rmse, ssimMap } from '../../../src/engine/metrics'

function rgb(width: number, height: number, f: (x: number, y: number) => [number, number, number]): RawImage {
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3)
  return { width, height, channels: 3, data }
}

function mask(width: number, height: number, f: (x: number, y: number) => boolean): RawImage {
  const data = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = f(x, y) ? 255 : 0
  return { width, height, channels: 1, data }
}

describe('metrics', () => {
  it('GRMSE and LRMSE match hand-computed values', () => {
    // 2x2 image: errors per pixel (all channels) 0, 3, 4, 12
    const errs = [0, 3, 4, 12]
    const target = rgb(2, 2, () => [100, 100, 100])
    const pred = rgb(2, 2, (x, y) => {
      const e = errs[y * 2 + x]
      return [100 + e, 100 + e, 100 + e]
    })
    expect(rmse(pred, target)).toBeCloseTo(Math.sqrt((0 + 9 + 16 + 144) / 4), 10)
    // mask on the pixels with errors 3 and 4: sqrt((3*9 + 3*16) / (3*2)) = sqrt(12.5)
    const m = mask(2, 2, (x, y) => y * 2 + x === 1 || y * 2 + x === 2)
    expect(rmse(pred, target, m)).toBeCloseTo(Math.sqrt(12.5), 10)
  })

  it('SSIM is 1 for identical images and (2ab+C1)/(a^2+b^2+C1) for flat images away from the border', () => {
    const a = rgb(32, 32, (x, y) => [(x * 7 + y * 3) % 256, (x * y) % 256, 50])
    const same = ssimMap(a, a)
    for (const v of same) expect(v).toBeCloseTo(1, 10)
    const flatA = rgb(32, 32, () => [100, 100, 100])
    const flatB = rgb(32, 32, () => [110, 110, 110])
    const map = ssimMap(flatA, flatB)
    const C1 = (0.01 * 255) ** 2
    expect(map[16 * 32 + 16]).toBeCloseTo((2 * 100 * 110 + C1) / (100 * 100 + 110 * 110 + C1), 10)
  })

  it('BER is 100 x (1 - (TPR + TNR) / 2)', () => {
    const gt = mask(4, 1, (x) => x === 0 || x === 2)
    expect(balancedErrorRate(new Uint8Array([1, 1, 0, 0]), gt)).toBeCloseTo(50, 10)
    expect(balancedErrorRate(new Uint8Array([1, 0, 1, 0]), gt)).toBeCloseTo(0, 10)
    expect(balancedErrorRate(new Uint8Array([0, 1, 0, 1]), gt)).toBeCloseTo(100, 10)
    // TPR 1/2, TNR 1 -> 25
    expect(balancedErrorRate(new Uint8Array([1, 0, 0, 0]), gt)).toBeCloseTo(25, 10)
    expect(balancedErrorRate(new Uint8Array([1, 0, 0, 0]), mask(4, 1, () => false))).toBeNaN()
  })

  it('the predicted shadow region ignores tiny (noise-level) darkening', () => {
    const before = rgb(3, 1, () => [200, 200, 200])
    const after = rgb(3, 1, (x) => (x === 0 ? [100, 100, 100] : x === 1 ? [197, 197, 197] : [200, 200, 200]))
    expect(Array.from(predictedShadowRegion(after, before))).toEqual([1, 0, 0])
  })

  it('a perfect prediction scores 0 / 0 / 1 / 1 / 0, doing nothing scores BER 50', () => {
    const noShadow = rgb(24, 24, () => [180, 170, 160])
    const m = mask(24, 24, (x, y) => x > 8 && x < 16 && y > 10 && y < 20)
    const shadow = rgb(24, 24, (x, y) => (m.data[y * 24 + x] ? [90, 85, 80] : [180, 170, 160]))
    const perfect = computeSampleMetrics(shadow, shadow, noShadow, m)
    expect(perfect).toMatchObject({ GRMSE: 0, LRMSE: 0, BER: 0 })
    expect(perfect.GSSIM).toBeCloseTo(1, 10)
    expect(perfect.LSSIM).toBeCloseTo(1, 10)
    const nothing = computeSampleMetrics(noShadow, shadow, noShadow, m)
    expect(nothing.BER).toBe(50)
    expect(nothing.LRMSE).toBeCloseTo(Math.sqrt((90 ** 2 + 85 ** 2 + 80 ** 2) / 3), 6)
    const mean = meanMetrics([perfect, nothing, { ...nothing, LRMSE: NaN, LSSIM: NaN, BER: NaN }])
    expect(mean.count).toBe(3)
    expect(mean.BER).toBe(25) // the NaN sample is skipped
  })
})

describe('darkening target', () => {
  it('is (ns - s) / ns per channel, 0 where nothing changed, even on near-black pixels', async () => {
    const tf = await import('@tensorflow/tfjs')
    const { darkeningTarget } = await import('../../../src/engine/train/losses')
    const ns = tf.tensor4d([0.8, 0.4, 0.005, 0.5], [1, 1, 4, 1])
    const s = tf.tensor4d([0.4, 0.4, 0.005, 0.6], [1, 1, 4, 1])
    const d = darkeningTarget(ns, s)
    const v = Array.from(d.dataSync())
    expect(v[0]).toBeCloseTo(0.5, 6)
    expect(v[1]).toBe(0)
    expect(v[2]).toBe(0)
    expect(v[3]).toBe(0) // brighter: clamped
    tf.dispose([ns, s, d])
  })
})

describe('direction loss', () => {
  it('is 1 for a uniform belief, near 0 for one peaked on the truth, larger for the wrong side, 0 with no known direction', async () => {
    const tf = await import('@tensorflow/tfjs')
    const { viewLoss } = await import('../../../src/engine/train/losses')
    const bins = 16
    const cells = 4
    const view = (directions: [number, number][], known: number[]) => ({
      input: tf.zeros([directions.length, 2, 2, 4]) as Tensor4D,
      attention: tf.zeros([directions.length, 2, 2, 2]) as Tensor4D,
      direction: tf.tensor2d(directions.flat(), [directions.length, 2]),
      directionKnown: tf.tensor2d(known, [known.length, 1]),
    })
    /** Logits peaked (by `height`) on bin k in every cell. */
    const peaked = (k: number, height: number) => {
      const v = new Float32Array(cells * bins)
      for (let c = 0; c < cells; c++) for (let j = 0; j < bins; j++) v[c * bins + j] = height * Math.cos((2 * Math.PI * (j - k)) / bins)
      return tf.tensor4d(v, [1, 2, 2, bins])
    }
    const loss = (logits: Tensor4D, v: ReturnType<typeof view>) => {
      const out = viewLoss({ attention: tf.zeros([1, 2, 2, 2]) as Tensor4D, direction: logits }, v)
      return out.direction.dataSync()[0]
    }
    const right = view([[1, 0]], [1])
    expect(loss(tf.zeros([1, 2, 2, bins]) as Tensor4D, right)).toBeCloseTo(1, 5)
    const sure = loss(peaked(0, 10), right) // the label's own shape (kappa 10): exact
    expect(sure).toBeLessThan(1e-4)
    expect(loss(peaked(8, 10), right)).toBeGreaterThan(5) // sure of the wrong side: worse than no idea
    const unknown = loss(peaked(8, 10), view([[0, 0]], [0]))
    expect(Number.isFinite(unknown)).toBe(true)
    expect(unknown).toBe(0)
  })
})

describe('attention loss (balanced cross-entropy)', () => {
  it('is minimised at the positive rate with cap 1 (calibrated), and pushed far above it by the default cap of 10', async () => {
    const tf = await import('@tensorflow/tfjs')
    const { balancedBce } = await import('../../../src/engine/train/losses')
    // 10 pixels, 1 positive: a constant prediction p; the loss minimum over p on a fine grid.
    const target = tf.tensor4d([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 10, 1])
    const best = (cap?: number) => {
      let arg = 0
      let min = Infinity
      for (let p = 0.01; p < 1; p += 0.01) {
        const pred = tf.fill([1, 1, 10, 1], p) as Tensor4D
        const loss = balancedBce(pred, target as Tensor4D, undefined, cap)
        const v = loss.dataSync()[0]
        if (v < min) [min, arg] = [v, p]
        tf.dispose([pred, loss])
      }
      return arg
    }
    expect(best(1)).toBeCloseTo(0.1, 2)
    expect(best()).toBeCloseTo(0.5, 1) // 9:1 imbalance weighted 9x: even odds
    tf.dispose(target)
  })
})
