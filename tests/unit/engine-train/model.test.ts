import { describe, expect, it, beforeAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../../../src/engine/backend'
import { attentionView, buildShadowModel, configToGrowFrom, hasDirectionOutput, modelGflops, TINY_MODEL_CONFIG, DEFAULT_MODEL_CONFIG, validateModelConfig, ARCHITECTURE_VERSION } from '../../../src/engine/model/architecture'
import { buildDiscriminator, defaultDiscriminatorConfig } from '../../../src/engine/model/discriminator'

const ALLOWED = new Set(['InputLayer', 'Conv2D', 'Conv2DTranspose', 'UpSampling2D', 'Concatenate', 'Add', 'Multiply', 'Activation', 'ReLU', 'LeakyReLU', 'AveragePooling2D', 'MaxPooling2D'])

describe('shadow model architecture', () => {
  beforeAll(async () => {
    await initTfBackend('wasm')
  })

  it('has one input [N,S,S,4] and outputs attention [N,S,S,2] then darkening [N,S,S,3], in [0,1]', () => {
    const model = buildShadowModel(TINY_MODEL_CONFIG)
    const s = TINY_MODEL_CONFIG.size
    expect(model.inputs).toHaveLength(1)
    expect(model.inputs[0].shape).toEqual([null, s, s, 4])
    expect(model.inputLayers[0].name).toBe('input')
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, s, s, 2],
      [null, s, s, 3],
    ])
    expect(model.outputLayers.map((l) => l.name)).toEqual(['attention', 'darkening'])
    const x = tf.randomUniform([2, s, s, 4])
    const [att, dark] = model.predict(x) as tf.Tensor[]
    for (const t of [att, dark]) {
      const v = t.dataSync()
      expect(Math.min(...v)).toBeGreaterThanOrEqual(0)
      expect(Math.max(...v)).toBeLessThanOrEqual(1)
    }
    // A fresh model adds almost no shadow (darkening starts near sigmoid(bias)).
    expect(dark.mean().dataSync()[0]).toBeLessThan(0.15)
    tf.dispose([x, att, dark])
    model.dispose()
  })

  it('with directionHead, adds a third output: logits over the direction bins per cell of the bottom grid, silent at first', () => {
    const config = { ...TINY_MODEL_CONFIG, castFrame: 'down' as const, directionHead: true, directionBins: 16 }
    const model = buildShadowModel(config)
    const s = config.size
    expect(model.outputLayers.map((l) => l.name)).toEqual(['attention', 'darkening', 'direction_bins'])
    expect(model.outputs[2].shape).toEqual([null, s / 4, s / 4, 16]) // the bottom of a 3-level U-Net
    expect(hasDirectionOutput(model)).toBe(true)
    const view = attentionView(model)
    expect(view.outputs.map((o) => o.shape)).toEqual([[null, s, s, 2], [null, s / 4, s / 4, 16]])
    // The view shares the generator's weights: no copies.
    expect(view.trainableWeights.every((w) => model.trainableWeights.includes(w))).toBe(true)
    const x = tf.randomUniform([1, s, s, 4])
    const [, , direction] = model.predict(x) as tf.Tensor[]
    expect(tf.max(tf.abs(direction)).dataSync()[0]).toBe(0)
    tf.dispose([x, direction])
    expect(() => validateModelConfig({ ...TINY_MODEL_CONFIG, directionHead: true })).toThrow(/cast-frame/)
    expect(() => validateModelConfig({ ...config, directionBins: 3 })).toThrow(/directionBins/)
    expect(hasDirectionOutput(buildShadowModel(TINY_MODEL_CONFIG))).toBe(false)
    // The third session's two-vote head still builds (its research runs load) but is not trained or read.
    const legacy = buildShadowModel({ ...config, directionBins: undefined })
    expect(legacy.outputNames[2]).toBe('direction')
    expect(hasDirectionOutput(legacy)).toBe(false)
    legacy.dispose()
    model.dispose()
  })

  it('uses only the layer classes the ONNX exporter covers', () => {
    const model = buildShadowModel(TINY_MODEL_CONFIG)
    const classes = new Set(model.layers.map((l) => l.getClassName()))
    for (const c of classes) expect(ALLOWED.has(c), c).toBe(true)
    for (const l of model.layers) {
      if (l.getClassName() === 'Conv2D') {
        const cfg = l.getConfig() as { padding: string; dilationRate: number | number[] }
        expect(cfg.padding).toBe('same')
        expect([1, [1, 1]]).toContainEqual(cfg.dilationRate)
      }
    }
    model.dispose()
  })

  it('inference inside tf.tidy leaves no tensors behind', () => {
    const model = buildShadowModel(TINY_MODEL_CONFIG)
    const s = TINY_MODEL_CONFIG.size
    const x = tf.zeros([1, s, s, 4])
    const before = tf.memory().numTensors
    const mean = tf.tidy(() => {
      const [, d] = model.predict(x) as tf.Tensor[]
      return d.mean().dataSync()[0]
    })
    expect(Number.isFinite(mean)).toBe(true)
    expect(tf.memory().numTensors).toBe(before)
    x.dispose()
    model.dispose()
  })

  it('the default configuration fits the speed budget on paper (<= 15 GFLOP per image)', () => {
    validateModelConfig(DEFAULT_MODEL_CONFIG)
    const model = buildShadowModel(DEFAULT_MODEL_CONFIG)
    const g = modelGflops(model)
    expect(g).toBeGreaterThan(0.1)
    expect(g).toBeLessThan(15)
    expect(ARCHITECTURE_VERSION).toMatch(/\S/)
    model.dispose()
  })

  it('a run started from a trained model keeps its frame and size, and grows into the default widths only where they are wider', () => {
    const imageFrame = { attentionWidths: [8, 16, 24, 32, 48], shadowWidths: [12, 20, 32, 48, 64], refineWidth: 12 }
    const grown = configToGrowFrom(DEFAULT_MODEL_CONFIG, imageFrame, 96)
    expect(grown).toMatchObject({ size: 96, attentionWidths: DEFAULT_MODEL_CONFIG.attentionWidths, shadowWidths: DEFAULT_MODEL_CONFIG.shadowWidths, directionHead: false })
    expect(grown.castFrame).toBeUndefined()
    const cast = configToGrowFrom(DEFAULT_MODEL_CONFIG, { ...imageFrame, castFrame: 'down' }, 128)
    expect(cast).toMatchObject({ castFrame: 'down', directionHead: true, directionBins: DEFAULT_MODEL_CONFIG.directionBins })
    // wider than the defaults somewhere: the source's own widths, so nothing is cut
    const wide = { ...imageFrame, shadowWidths: [12, 20, 32, 48, 96] }
    expect(configToGrowFrom(DEFAULT_MODEL_CONFIG, wide, 128)).toMatchObject({ attentionWidths: imageFrame.attentionWidths, shadowWidths: wide.shadowWidths, refineWidth: 12 })
    expect(() => configToGrowFrom(DEFAULT_MODEL_CONFIG, { refineWidth: 12 }, 128)).toThrow(/widths/)
  })

  it('rejects a size that the U-Net depth cannot divide', () => {
    expect(() => validateModelConfig({ ...TINY_MODEL_CONFIG, size: 30 })).toThrow(/multiple of 4/)
  })

  it('the discriminator gives one logit per image', () => {
    const d = buildDiscriminator(defaultDiscriminatorConfig(32))
    const y = tf.tidy(() => (d.predict(tf.zeros([3, 32, 32, 7])) as tf.Tensor).shape)
    expect(y).toEqual([3, 1])
    d.dispose()
  })
})
