import { describe, expect, it } from 'vitest'
import { beliefMixLoss, committedHedgePair, hedgeMixLoss, mirrorHedgePair, turnHedgeBatch, type BeliefHedgePair, type HedgePair } from '../../../src/engine/train/through-hedge'
import { mirroredBin } from '../../../src/engine/cast-frame'
import type { ShapePrior } from '../../../src/engine/shape-prior'

const S = 16
const prior: ShapePrior = { modelGain: 0.9, weight: 0.4, lengthPerHeight: 0.9, darkening: [0.4, 0.35, 0.3] }

/** A deterministic pseudo-random sequence in [0, 1). */
function sequence(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 4294967296
  }
}

/** A small object (rows 6-9, columns 7-8) on a random ground, its shadow darkening the rows below it. */
function pair(directions: HedgePair['directions']): HedgePair {
  const random = sequence(3)
  const input = new Float32Array(S * S * 4)
  const truth = new Float32Array(S * S * 3)
  const shadowMask = new Float32Array(S * S)
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x
      const object = y >= 6 && y <= 9 && x >= 7 && x <= 8 ? 1 : 0
      const shadow = !object && y >= 10 && y <= 13 && x >= 6 && x <= 9 ? 1 : 0
      input[i * 4 + 3] = object
      shadowMask[i] = shadow
      for (let c = 0; c < 3; c++) {
        input[i * 4 + c] = 0.3 + 0.6 * random()
        truth[i * 3 + c] = input[i * 4 + c] * (shadow ? 0.55 : 1)
      }
    }
  }
  return { id: 'p', input, attention: new Float32Array(S * S * 2), truth, shadowMask, directions }
}

function randomDarkening(n: number): Float32Array {
  const random = sequence(11)
  return Float32Array.from({ length: n * S * S * 3 }, () => 0.05 + 0.55 * random())
}

describe('training through the hedge', () => {
  it('gives the exact gradient of the mix loss when the directions are quarter turns of the cast frame', () => {
    // Down (no turn) and up (half a turn): the turn back is a permutation, so its transpose is exact.
    const pairs = [pair([{ angle: Math.PI / 2, weight: 0.7 }, { angle: -Math.PI / 2, weight: 0.3 }])]
    const turned = turnHedgeBatch(pairs, S, prior)
    const dark = randomDarkening(turned.jobs.length)
    const { loss, gradient } = hedgeMixLoss(pairs, turned, dark, S, 0.2, true)
    expect(loss).toBeGreaterThan(0)
    const h = 1e-3
    const random = sequence(5)
    let checked = 0
    for (let t = 0; t < 400 && checked < 40; t++) {
      const k = Math.floor(random() * dark.length)
      if (gradient![k] === 0) continue
      const plus = Float32Array.from(dark)
      const minus = Float32Array.from(dark)
      plus[k] += h
      minus[k] -= h
      const numeric = (hedgeMixLoss(pairs, turned, plus, S, 0.2, false).loss - hedgeMixLoss(pairs, turned, minus, S, 0.2, false).loss) / (2 * h)
      expect(Math.abs(numeric - gradient![k])).toBeLessThan(1e-4 + 0.02 * Math.abs(numeric))
      checked++
    }
    expect(checked).toBe(40)
  })

  it('gives the directional derivative of the mix loss for any turn, up to the interpolation', () => {
    const pairs = [pair([{ angle: 0.3, weight: 0.6 }, { angle: 2.2, weight: 0.4 }])]
    const turned = turnHedgeBatch(pairs, S, prior)
    const dark = randomDarkening(turned.jobs.length)
    const { gradient } = hedgeMixLoss(pairs, turned, dark, S, 0.2, true)
    // A smooth direction of change: the interpolation's error is in the fine detail.
    const v = Float32Array.from(dark, (_, k) => Math.sin(((k / 3) | 0) / 7) + 0.5)
    const h = 1e-3
    const at = (sign: number) => hedgeMixLoss(pairs, turned, Float32Array.from(dark, (d, k) => d + sign * h * v[k]), S, 0.2, false).loss
    const numeric = (at(1) - at(-1)) / (2 * h)
    const analytic = gradient!.reduce((a, g, k) => a + g * v[k], 0)
    expect(numeric).toBeGreaterThan(0)
    expect(Math.abs(analytic - numeric) / Math.abs(numeric)).toBeLessThan(0.15)
  })

  it('scores a darkening that matches the real shadow better than none', () => {
    const pairs = [pair([{ angle: Math.PI / 2, weight: 1 }])]
    const turned = turnHedgeBatch(pairs, S, { ...prior, modelGain: 1, weight: 0 })
    const none = new Float32Array(S * S * 3)
    // 0.45 darkening where the shadow is (below the object), after the pipeline's noise floor.
    const right = Float32Array.from(none, (_, k) => (pairs[0].shadowMask[(k / 3) | 0] ? 0.45 * (1 - 0.02) + 0.02 : 0))
    const a = hedgeMixLoss(pairs, turned, none, S, 0.2, false)
    const b = hedgeMixLoss(pairs, turned, right, S, 0.2, false)
    expect(b.perPair[0].local).toBeLessThan(1e-6)
    expect(b.loss).toBeLessThan(a.loss)
  })

  it('mirrors a pair with its directions', () => {
    const p = pair([{ angle: 0.3, weight: 1 }])
    const m = mirrorHedgePair(p, S)
    expect(m.directions[0].angle).toBeCloseTo(Math.PI - 0.3)
    expect(m.input[(5 * S + 0) * 4 + 1]).toBe(p.input[(5 * S + S - 1) * 4 + 1])
    expect(Array.from(mirrorHedgePair(m, S).truth)).toEqual(Array.from(p.truth))
  })

  it('commits a pair to its own shadow direction and counts its loss by its weight', () => {
    const p = pair([{ angle: 0.3, weight: 0.5 }, { angle: 2.2, weight: 0.5 }])
    const committed = committedHedgePair(p, S, 0.5)!
    // The shadow lies straight below the object: cast down (pi / 2).
    expect(committed.directions).toHaveLength(1)
    expect(committed.directions[0].angle).toBeCloseTo(Math.PI / 2, 5)
    const turned = turnHedgeBatch([committed], S, prior)
    const dark = randomDarkening(1)
    const half = hedgeMixLoss([committed], turned, dark, S, 0.2, true)
    const whole = hedgeMixLoss([{ ...committed, lossWeight: 1 }], turned, dark, S, 0.2, true)
    expect(half.loss).toBeCloseTo(whole.loss / 2, 10)
    const size = (g: Float32Array | null) => g!.reduce((a, v) => a + Math.abs(v), 0)
    expect(size(whole.gradient)).toBeGreaterThan(0)
    expect(size(half.gradient)).toBeCloseTo(size(whole.gradient) / 2, 6)
    const noShadow = { ...p, shadowMask: new Float32Array(S * S) }
    expect(committedHedgePair(noShadow, S, 1)).toBeNull()
  })
})

describe('training the belief through the hedge', () => {
  const bins = 4
  /** The test pair with a shadow cast per bin: bin 1 (down) is the real shadow's place, the others darken elsewhere. */
  function beliefPair(): BeliefHedgePair {
    const p = pair([{ angle: Math.PI / 2, weight: 1 }])
    const N = S * S * 3
    const random = sequence(17)
    const castPerBin = new Uint8Array(bins * N)
    for (let b = 0; b < bins; b++) {
      for (let i = 0; i < S * S; i++) {
        const y = (i / S) | 0
        const inPlace = b === 1 ? p.shadowMask[i] > 0 : (y + b) % 5 === 0
        for (let c = 0; c < 3; c++) castPerBin[b * N + i * 3 + c] = inPlace ? 90 + Math.floor(60 * random()) : Math.floor(20 * random())
      }
    }
    return { id: 'p', input: p.input, attention: p.attention, truth: p.truth, shadowMask: p.shadowMask, castPerBin, evidenceFactor: new Float64Array(bins).fill(1) }
  }

  it('gives the gradient of the mix loss with respect to the weights', () => {
    const p = beliefPair()
    const weights = [0.1, 0.5, 0.3, 0.1]
    const { loss, gradient } = beliefMixLoss(p, weights, S, 0.2)
    expect(loss).toBeGreaterThan(0)
    const h = 1e-4
    for (let b = 0; b < bins; b++) {
      const at = (sign: number) => beliefMixLoss(p, weights.map((w, k) => (k === b ? w + sign * h : w)), S, 0.2).loss
      const numeric = (at(1) - at(-1)) / (2 * h)
      expect(Math.abs(numeric - gradient[b])).toBeLessThan(1e-5 + 0.01 * Math.abs(numeric))
    }
    // The bin that darkens the real shadow's place lowers the loss; the others raise it.
    expect(gradient[1]).toBeLessThan(gradient[0])
    expect(gradient[1]).toBeLessThan(gradient[2])
  })

  it('scores the right direction better than a hedge over all of them', () => {
    const p = beliefPair()
    const sure = beliefMixLoss(p, [0, 1, 0, 0], S, 0.2)
    const spread = beliefMixLoss(p, [0.25, 0.25, 0.25, 0.25], S, 0.2)
    expect(sure.loss).toBeLessThan(spread.loss)
    expect(sure.local).toBeLessThan(spread.local)
  })

  it('mirrors direction bins left to right', () => {
    // 16 bins of 22.5 degrees: right (0) and left (8) swap, down (4) and up (12) stay.
    expect([0, 4, 8, 12, 1, 15].map((k) => mirroredBin(k, 16))).toEqual([8, 4, 0, 12, 7, 9])
    for (let k = 0; k < 16; k++) expect(mirroredBin(mirroredBin(k, 16), 16)).toBe(k)
  })
})
