import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { saveModelDir, loadTfjsModel, readModelManifest, verifyModelDir, loadOnnxBytes } from '../../../src/engine/model-dir'
import { UserError } from '../../../src/core/errors'
import { buildTestShadowModel, testInput } from './test-models'

let root: string
const manifestInput = {
  name: 'test-model',
  inputSize: 32,
  architectureVersion: 'test-unet-1',
  architecture: { size: 32, width: 5 },
  training: { dataCount: 10, steps: 3, wallTimeSeconds: 1.5, backend: 'cpu' },
  metrics: { synthetic: { LRMSE: 12.5 } },
}

async function expectUserError(p: Promise<unknown>, code: string, message: RegExp) {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(UserError)
  expect((err as UserError).code).toBe(code)
  expect((err as UserError).message).toMatch(message)
}

describe('model folder', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
    root = await fs.mkdtemp(join(tmpdir(), 'umbra-modeldir-'))
  })
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true })
  })

  it('round-trips a model: same weights, same predictions, manifest with checksums and ONNX facts', async () => {
    const model = buildTestShadowModel(32)
    const dir = join(root, 'roundtrip')
    const saved = await saveModelDir(dir, model, manifestInput)
    expect((await fs.readdir(dir)).sort()).toEqual(['manifest.json', 'model.json', 'model.onnx', 'weights.bin'])
    expect((await fs.readdir(root)).filter((f) => f.startsWith('.'))).toEqual([]) // no temp folder left
    const manifest = await readModelManifest(dir)
    expect(manifest).toEqual(saved)
    expect(manifest.baseModel).toBeNull()
    expect(manifest.onnx.outputNames).toEqual(['attention', 'darkening'])
    expect(manifest.onnx.flops).toBeGreaterThan(0)
    expect(manifest.parameterCount).toBe(model.countParams())
    expect(Object.keys(manifest.files).sort()).toEqual(['model.json', 'model.onnx', 'weights.bin'])

    const { model: loaded } = await loadTfjsModel(dir)
    const x = tf.tensor4d(testInput(32), [1, 32, 32, 4])
    const a = model.predict(x) as tf.Tensor[]
    const b = loaded.predict(x) as tf.Tensor[]
    expect(Array.from(b[1].dataSync())).toEqual(Array.from(a[1].dataSync()))
    tf.dispose([x, ...a, ...b])
    loaded.dispose()

    // Saving again over an existing folder replaces it whole.
    const again = await saveModelDir(dir, model, { ...manifestInput, name: 'second', baseModel: 'test-model' })
    expect((await readModelManifest(dir)).name).toBe('second')
    expect(again.baseModel).toBe('test-model')
    model.dispose()
  })

  it('refuses damaged or incomplete folders with clear errors', async () => {
    const model = buildTestShadowModel(32)
    const dir = join(root, 'damaged')
    await saveModelDir(dir, model, manifestInput)
    model.dispose()

    const weights = join(dir, 'weights.bin')
    const original = await fs.readFile(weights)
    const flipped = Buffer.from(original)
    flipped[100] ^= 0xff
    await fs.writeFile(weights, flipped)
    await expectUserError(loadTfjsModel(dir), 'MODEL_CORRUPT', /weights\.bin is damaged/)
    await expectUserError(verifyModelDir(dir), 'MODEL_CORRUPT', /checksum/)
    await fs.writeFile(weights, original)
    await verifyModelDir(dir)

    await fs.rm(join(dir, 'model.onnx'))
    await expectUserError(loadOnnxBytes(dir), 'MODEL_CORRUPT', /model\.onnx is missing/)

    await fs.writeFile(join(dir, 'manifest.json'), '{"name": "x"')
    await expectUserError(readModelManifest(dir), 'MODEL_CORRUPT', /manifest\.json is damaged/)
    await fs.writeFile(join(dir, 'manifest.json'), '{"name": "x"}')
    await expectUserError(readModelManifest(dir), 'MODEL_CORRUPT', /not a valid model manifest/)
    await fs.rm(join(dir, 'manifest.json'))
    await expectUserError(loadTfjsModel(dir), 'MODEL_CORRUPT', /manifest\.json is missing/)
    await expectUserError(loadTfjsModel(join(root, 'nope')), 'MODEL_NOT_FOUND', /no model folder/)
  })

  it('checks the manifest against the model before writing anything', async () => {
    const model = buildTestShadowModel(32)
    const dir = join(root, 'mismatch')
    await expectUserError(saveModelDir(dir, model, { ...manifestInput, inputSize: 64 }), 'MODEL_MISMATCH', /inputSize 64/)
    await expect(fs.stat(dir)).rejects.toThrow()
    model.dispose()
  })
})
