import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { saveModelDir } from '../../../src/engine/model-dir'
import { createShadowEngine } from '../../../src/engine/inference'
import { UserError } from '../../../src/core/errors'
import { buildTestShadowModel, maxAbsDiff, testInput } from './test-models'

let root: string
let modelDir: string
const size = 32

describe('createShadowEngine', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
    root = await fs.mkdtemp(join(tmpdir(), 'umbra-engine-'))
    modelDir = join(root, 'model')
    const model = buildTestShadowModel(size, 5, 7)
    await saveModelDir(modelDir, model, { name: 'engine-test', inputSize: size, architectureVersion: 'test', architecture: { size } })
    model.dispose()
  })
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true })
  })

  it('gives the same outputs on onnxruntime and on tfjs (cpu and wasm backends)', async () => {
    const batch = testInput(size, 2, 11)
    const onnx = await createShadowEngine({ modelDir, runtime: 'onnx', threads: 1 })
    expect(onnx.runtime).toBe('onnx')
    expect(onnx.backend).toBe('onnxruntime-cpu')
    const viaOnnx = await onnx.infer(batch, 2)
    await onnx.dispose()
    expect(viaOnnx.attention.length).toBe(2 * size * size * 2)
    expect(viaOnnx.darkening.length).toBe(2 * size * size * 3)

    for (const backend of ['cpu', 'wasm'] as const) {
      const engine = await createShadowEngine({ modelDir, runtime: 'tfjs', tfBackend: backend })
      expect(engine.runtime).toBe('tfjs')
      expect(engine.backend).toBe(backend)
      const viaTfjs = await engine.infer(batch, 2)
      await engine.dispose()
      expect(maxAbsDiff(viaOnnx.attention, viaTfjs.attention), backend).toBeLessThan(1e-5)
      expect(maxAbsDiff(viaOnnx.darkening, viaTfjs.darkening), backend).toBeLessThan(1e-5)
    }
    await tf.setBackend('cpu')
  })

  it("passes a model's direction output through both runtimes", async () => {
    const { buildShadowModel, TINY_MODEL_CONFIG } = await import('../../../src/engine/model/architecture')
    const config = { ...TINY_MODEL_CONFIG, castFrame: 'down' as const, directionHead: true, directionBins: 8 }
    const model = buildShadowModel(config)
    const layer = model.getLayer('direction_bins')
    layer.setWeights(layer.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.3, 'float32', 9)))
    const dir = join(root, 'with-direction')
    await saveModelDir(dir, model, { name: 'direction-test', inputSize: config.size, architectureVersion: 'test', architecture: { ...config } })
    model.dispose()
    const batch = testInput(config.size, 1, 4)
    const outs = []
    for (const runtime of ['onnx', 'tfjs'] as const) {
      const engine = await createShadowEngine({ modelDir: dir, runtime, tfBackend: 'cpu', threads: 1 })
      outs.push(await engine.infer(batch, 1))
      await engine.dispose()
    }
    expect(outs[0].direction?.length).toBe((config.size / 4) ** 2 * 8)
    expect(maxAbsDiff(outs[0].direction!, outs[1].direction!)).toBeLessThan(1e-5)
    // A model without the output gives none.
    const plain = await createShadowEngine({ modelDir, runtime: 'onnx', threads: 1 })
    expect((await plain.infer(testInput(size), 1)).direction).toBeUndefined()
    await plain.dispose()
  })

  it('auto picks onnxruntime here and leaves no tfjs tensors behind with the tfjs runtime', async () => {
    const auto = await createShadowEngine({ modelDir })
    expect(auto.runtime).toBe('onnx')
    await auto.dispose()

    const before = tf.memory().numTensors
    const engine = await createShadowEngine({ modelDir, runtime: 'tfjs', tfBackend: 'cpu' })
    expect(tf.memory().numTensors).toBeGreaterThan(before) // the weights
    const afterLoad = tf.memory().numTensors
    await engine.infer(testInput(size), 1)
    await engine.infer(testInput(size, 3), 3)
    expect(tf.memory().numTensors).toBe(afterLoad)
    await engine.dispose()
    expect(tf.memory().numTensors).toBe(before)
  })

  it('refuses a batch of the wrong size and a missing model folder', async () => {
    const engine = await createShadowEngine({ modelDir, runtime: 'onnx', threads: 1 })
    await expect(engine.infer(new Float32Array(10), 1)).rejects.toThrow(/expected 1x32x32x4/)
    await engine.dispose()
    const err = await createShadowEngine({ modelDir: join(root, 'missing') }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).code).toBe('MODEL_NOT_FOUND')
  })
})
