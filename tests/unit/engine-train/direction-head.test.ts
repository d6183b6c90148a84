import { beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../../../src/engine/backend'
import { buildShadowModel, configToGrowFrom, DEFAULT_MODEL_CONFIG, TINY_MODEL_CONFIG } from '../../../src/engine/model/architecture'
import { transferWeights } from '../../../src/engine/train/checkpoint'
import { createDirectionHeadTrainer, directionHeadLayers, evidenceFromAttention, type HeadViews } from '../../../src/engine/train/direction-head'
import { TrainRng } from '../../../src/engine/train/rng'

const CONFIG = { ...TINY_MODEL_CONFIG, castFrame: 'down' as const, directionHead: true, directionBins: 16 }
const S = CONFIG.size

/**
 * Inputs whose shadow direction is written in the photo: a bright square on the left half when the
 * shadow falls right (angle 0), on the right half when it falls left (angle pi). A head that learns
 * reads it; one that does not stays at "no idea" (loss 1).
 */
function sideViews(n: number, rng: TrainRng): { inputs: Float32Array; direction: [number, number][] } {
  const inputs = new Float32Array(n * S * S * 4)
  const direction: [number, number][] = []
  for (let v = 0; v < n; v++) {
    const right = rng.chance(0.5)
    direction.push(right ? [1, 0] : [-1, 0])
    for (let y = 0; y < S; y++)
      for (let x = 0; x < S; x++) {
        const lit = (right ? x < S / 2 : x >= S / 2) && y > S / 4 && y < (3 * S) / 4
        for (let c = 0; c < 3; c++) inputs[((v * S + y) * S + x) * 4 + c] = lit ? 0.9 : 0.2 + 0.05 * rng.next()
      }
  }
  return { inputs, direction }
}

describe('direction head trainer', () => {
  beforeAll(async () => {
    await initTfBackend('wasm')
  })

  it('learns a direction its input shows, changes no weight outside the head, and leaks no tensors', () => {
    const model = buildShadowModel(CONFIG)
    const headNames = new Set(directionHeadLayers(model).map((l) => l.name))
    expect([...headNames].sort()).toEqual(['dir_down0', 'dir_down1', 'dir_mix', 'direction_bins'])
    const frozenBefore = model.layers.filter((l) => !headNames.has(l.name)).flatMap((l) => l.getWeights().map((w) => w.dataSync().slice()))
    const tensorsBefore = tf.memory().numTensors

    const rng = new TrainRng(3)
    const trainer = createDirectionHeadTrainer(model)
    const make = (n: number): HeadViews => {
      const v = sideViews(n, rng)
      return { evidence: trainer.evidence(v.inputs, n), direction: v.direction }
    }
    const train = make(64)
    const val = make(32)
    const start = trainer.loss(val)
    expect(start).toBeCloseTo(1, 3) // the output layer starts at zero: no opinion
    let best = { loss: start, weights: trainer.snapshot() }
    for (let epoch = 0; epoch < 25; epoch++) {
      trainer.epoch(train, 16, 3e-3, rng)
      const loss = trainer.loss(val)
      if (loss < best.loss) {
        tf.dispose(best.weights)
        best = { loss, weights: trainer.snapshot() }
      }
    }
    expect(best.loss).toBeLessThan(0.8)
    trainer.restore(best.weights)
    expect(trainer.loss(val)).toBeCloseTo(best.loss, 4)
    tf.dispose(best.weights)
    trainer.dispose()

    const frozenAfter = model.layers.filter((l) => !headNames.has(l.name)).flatMap((l) => l.getWeights().map((w) => w.dataSync().slice()))
    expect(frozenAfter).toEqual(frozenBefore)
    expect(tf.memory().numTensors).toBe(tensorsBefore)
    model.dispose()
  })

  it('builds the same head input from attention maps computed elsewhere (the script uses onnxruntime)', () => {
    const model = buildShadowModel(CONFIG)
    const trainer = createDirectionHeadTrainer(model)
    const n = 3
    const { inputs } = sideViews(n, new TrainRng(5))
    const fromModel = trainer.evidence(inputs, n)
    const attention = tf.tidy(() => (model.predict(tf.tensor4d(inputs, [n, S, S, 4])) as tf.Tensor[])[0].dataSync() as Float32Array)
    const fromMaps = evidenceFromAttention(inputs, attention, n)
    expect(fromMaps).toHaveLength(n)
    for (let i = 0; i < n; i++) {
      expect(fromMaps[i].length).toBe(S * S * 6)
      let worst = 0
      for (let k = 0; k < fromMaps[i].length; k++) worst = Math.max(worst, Math.abs(fromMaps[i][k] - fromModel[i][k]))
      expect(worst).toBeLessThan(1e-6)
    }
    expect(() => evidenceFromAttention(inputs, attention.subarray(1), n)).toThrow(/do not describe/)
    trainer.dispose()
    model.dispose()
  })

  it('builds a head of other widths, and a trained head widened into it gives the same belief', () => {
    const narrow = buildShadowModel(CONFIG)
    // Give the narrow head weights that are not its initial ones (the bins start at zero).
    for (const layer of directionHeadLayers(narrow)) layer.setWeights(layer.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.2, 'float32', 3)))
    const wideConfig = { ...CONFIG, directionWidths: [24, 24, 40] }
    const wide = buildShadowModel(wideConfig)
    expect(wide.getLayer('dir_down1').getWeights()[0].shape).toEqual([3, 3, 24, 24])
    expect(wide.getLayer('dir_mix').getWeights()[0].shape).toEqual([3, 3, 24, 40])
    const { fresh, widened } = transferWeights(wide, narrow)
    expect(fresh).toEqual([])
    expect(widened.sort()).toEqual(['dir_down0', 'dir_down1', 'dir_mix', 'direction_bins'])
    const { inputs } = sideViews(2, new TrainRng(9))
    const bins = (m: tf.LayersModel) => tf.tidy(() => (m.predict(tf.tensor4d(inputs, [2, S, S, 4])) as tf.Tensor[])[2].dataSync() as Float32Array)
    const [a, b] = [bins(narrow), bins(wide)]
    expect(a.some((v) => Math.abs(v) > 1e-3)).toBe(true)
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 4)
    expect(() => buildShadowModel({ ...CONFIG, directionWidths: [12, 12] })).toThrow(/directionWidths must be 3 positive integers/)
    expect(() => buildShadowModel({ ...TINY_MODEL_CONFIG, directionWidths: [24, 24, 40] })).toThrow(/needs directionHead/)
    // A run grown from a model with a wider head keeps its widths.
    expect(configToGrowFrom(DEFAULT_MODEL_CONFIG, { ...DEFAULT_MODEL_CONFIG, directionWidths: [24, 24, 48, 48, 48] }, 128).directionWidths).toEqual([24, 24, 48, 48, 48])
    narrow.dispose()
    wide.dispose()
  })

  it('refuses a model without the bins output', () => {
    const model = buildShadowModel(TINY_MODEL_CONFIG)
    expect(() => createDirectionHeadTrainer(model)).toThrow(/no direction output/)
    model.dispose()
  })
})
