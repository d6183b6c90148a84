import { describe, it, expect, beforeAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { exportLayersModelToOnnx } from '../../../src/engine/onnx/export'
import { buildTestShadowModel, maxAbsDiff, testInput } from './test-models'

async function runOnnx(bytes: Uint8Array, inputName: string, data: Float32Array, shape: number[]) {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' })
  try {
    const result = await session.run({ [inputName]: new ort.Tensor('float32', data, shape) })
    return session.outputNames.map((n) => result[n].data as Float32Array)
  } finally {
    await session.release()
  }
}

describe('tfjs -> ONNX export', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
  })

  it('matches tfjs on a U-Net using every allowed layer class, both outputs, batch of 2', async () => {
    const size = 32
    const model = buildTestShadowModel(size, 5)
    const exported = exportLayersModelToOnnx(model)
    for (const cls of ['Conv2D', 'Conv2DTranspose', 'UpSampling2D', 'Concatenate', 'Add', 'Multiply', 'Activation', 'ReLU', 'LeakyReLU', 'AveragePooling2D', 'MaxPooling2D']) {
      expect(exported.layerClasses[cls], cls).toBeGreaterThan(0)
    }
    expect(exported.outputs.map((o) => o.name)).toEqual(['attention', 'darkening'])
    expect(exported.outputs.map((o) => o.shape)).toEqual([[size, size, 2], [size, size, 3]])
    const input = testInput(size, 2)
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(input, [2, size, size, 4])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array))
    const got = await runOnnx(exported.bytes, exported.inputName, input, [2, size, size, 4])
    expect(maxAbsDiff(got[0], expected[0])).toBeLessThan(1e-5)
    expect(maxAbsDiff(got[1], expected[1])).toBeLessThan(1e-5)
    // Not a trivially constant network: outputs vary across pixels.
    expect(Math.max(...expected[1]) - Math.min(...expected[1])).toBeGreaterThan(0.01)
    model.dispose()
  })

  it('flattens nested functional models and counts conv FLOPs from the layer shapes', async () => {
    const size = 16
    const inner = (() => {
      const x = tf.input({ shape: [size, size, 4] })
      const y = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor
      return tf.model({ inputs: x, outputs: y, name: 'inner' })
    })()
    const input = tf.input({ shape: [size, size, 4], name: 'input' })
    const a = inner.apply(input) as tf.SymbolicTensor
    const out = tf.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'out' }).apply(a) as tf.SymbolicTensor
    const model = tf.model({ inputs: input, outputs: out })
    const exported = exportLayersModelToOnnx(model)
    expect(exported.convFlops).toBe(2 * 9 * 4 * 3 * size * size + 2 * 1 * 3 * 1 * size * size)
    const data = testInput(size)
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(data, [1, size, size, 4])) as tf.Tensor).dataSync() as Float32Array)
    const [got] = await runOnnx(exported.bytes, exported.inputName, data, [1, size, size, 4])
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5)
    model.dispose()
  })

  it("matches TensorFlow's asymmetric 'same' padding on odd sizes, and the extra layers", async () => {
    const size = 15
    const input = tf.input({ shape: [size, size, 4], name: 'input' })
    const seed = (n: number) => tf.initializers.glorotUniform({ seed: n })
    const a = tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: seed(1), activation: 'elu' }).apply(input) as tf.SymbolicTensor // 8
    const b = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(a) as tf.SymbolicTensor // 4
    const c = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'same', kernelInitializer: seed(2) }).apply(input) as tf.SymbolicTensor) as tf.SymbolicTensor // 8
    const d = tf.layers.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', kernelInitializer: seed(3), activation: 'relu6' }).apply(c) as tf.SymbolicTensor
    const e = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(b) as tf.SymbolicTensor // 8
    const f = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', kernelInitializer: seed(4) }).apply(b) as tf.SymbolicTensor // 9
    const g = tf.layers.average().apply([tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: seed(5) }).apply(e) as tf.SymbolicTensor, d]) as tf.SymbolicTensor
    const h = tf.layers.maximum().apply([g, tf.layers.minimum().apply([d, tf.layers.dropout({ rate: 0.5 }).apply(g) as tf.SymbolicTensor]) as tf.SymbolicTensor]) as tf.SymbolicTensor
    const model = tf.model({ inputs: input, outputs: [h, f] })
    const exported = exportLayersModelToOnnx(model)
    const data = testInput(size, 1, 9)
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(data, [1, size, size, 4])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array))
    const got = await runOnnx(exported.bytes, exported.inputName, data, [1, size, size, 4])
    expect(maxAbsDiff(got[0], expected[0])).toBeLessThan(1e-5)
    expect(maxAbsDiff(got[1], expected[1])).toBeLessThan(1e-5)
    model.dispose()
  })

  it('refuses a layer class it cannot convert, naming it', () => {
    const input = tf.input({ shape: [8, 8, 4], name: 'input' })
    const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(input) as tf.SymbolicTensor
    const model = tf.model({ inputs: input, outputs: bn })
    expect(() => exportLayersModelToOnnx(model)).toThrow(/bn.*BatchNormalization/)
    model.dispose()
  })
})

describe('export of the shipped architecture', () => {
  it("matches tfjs on TRAIN's generator (tiny config)", async () => {
    await tf.setBackend('cpu')
    const { buildShadowModel, TINY_MODEL_CONFIG } = await import('../../../src/engine/model/architecture')
    const model = buildShadowModel(TINY_MODEL_CONFIG)
    // The layers that make the darkening logits start at zero: give them weights, so the comparison
    // covers the whole shadow path.
    for (const name of ['sh_coarse', 'refine_out']) {
      const layer = model.getLayer(name)
      layer.setWeights(layer.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.3, 'float32', 20 + i)))
    }
    const size = TINY_MODEL_CONFIG.size
    const exported = exportLayersModelToOnnx(model)
    expect(exported.outputs.map((o) => o.shape)).toEqual([[size, size, 2], [size, size, 3]])
    const input = testInput(size, 2, 5)
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(input, [2, size, size, 4])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array))
    const got = await runOnnx(exported.bytes, exported.inputName, input, [2, size, size, 4])
    expect(maxAbsDiff(got[0], expected[0])).toBeLessThan(1e-5)
    expect(maxAbsDiff(got[1], expected[1])).toBeLessThan(1e-5)
    model.dispose()
  })

  it('exports the direction output as a third output, in order', async () => {
    await tf.setBackend('cpu')
    const { buildShadowModel, TINY_MODEL_CONFIG } = await import('../../../src/engine/model/architecture')
    const model = buildShadowModel({ ...TINY_MODEL_CONFIG, castFrame: 'down', directionHead: true, directionBins: 8 })
    // Give the zero-initialised output something to carry.
    const layer = model.getLayer('direction_bins')
    layer.setWeights(layer.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.3, 'float32', 4)))
    const size = TINY_MODEL_CONFIG.size
    const exported = exportLayersModelToOnnx(model)
    expect(exported.outputs.map((o) => o.name)).toEqual(['attention', 'darkening', 'direction_bins'])
    const input = testInput(size, 2, 6)
    const expected = tf.tidy(() => (model.predict(tf.tensor4d(input, [2, size, size, 4])) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array))
    const got = await runOnnx(exported.bytes, exported.inputName, input, [2, size, size, 4])
    expect(Math.max(...expected[2].map(Math.abs))).toBeGreaterThan(0.01)
    for (let k = 0; k < 3; k++) expect(maxAbsDiff(got[k], expected[k])).toBeLessThan(1e-5)
    model.dispose()
  })
})
