import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { saveModelDir } from '../../../src/engine/model-dir'
import { createShadowEngine } from '../../../src/engine/inference'
import { openShadowBlock } from '../../../src/engine/shadow-block'
import { buildTestShadowModel, maxAbsDiff, testInput } from '../engine-infer/test-models'
import { writeGeometricShadowModel } from '../../helpers/geometric-shadow-model'

/** The shadow block with given attention maps: exactly the full model when given its own maps, different when given others. */
let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-block-'))
  await tf.setBackend('cpu')
  const model = buildTestShadowModel(32, 5, 7)
  await saveModelDir(join(dir, 'm'), model, { name: 'block test', inputSize: 32, architectureVersion: 'test', architecture: { size: 32 } })
  model.dispose()
  await writeGeometricShadowModel(join(dir, 'geo'), 32)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('shadow block (attention as an input)', () => {
  for (const runtime of ['onnx', 'tfjs'] as const) {
    it(`${runtime}: own attention maps give the full model's darkening; other maps change it`, async () => {
      const engine = await createShadowEngine({ modelDir: join(dir, 'm'), runtime, tfBackend: 'cpu' })
      const block = await openShadowBlock(join(dir, 'm'), runtime, { threads: 1 })
      const input = testInput(32, 2)
      const full = await engine.infer(input, 2)
      const same = await block.run(input, full.attention, 2)
      expect(maxAbsDiff(same, full.darkening)).toBeLessThan(1e-5)
      const other = new Float32Array(full.attention.length).fill(0.9)
      const changed = await block.run(input, other, 2)
      expect(maxAbsDiff(changed, full.darkening)).toBeGreaterThan(1e-3)
      await block.dispose()
      await engine.dispose()
    })
  }

  it('geometric test model: painting occluder shadows where there were none darkens exactly there', async () => {
    const block = await openShadowBlock(join(dir, 'geo'), 'onnx', { threads: 1 })
    const S = 32
    const input = new Float32Array(S * S * 4) // empty scene, no object
    const att = new Float32Array(S * S * 2)
    const none = await block.run(input, att, 1)
    for (let y = 4; y < 10; y++) for (let x = 4; x < 10; x++) att[(y * S + x) * 2 + 1] = 1
    const painted = await block.run(input, att, 1)
    expect(painted[(6 * S + 6) * 3]).toBeGreaterThan(none[(6 * S + 6) * 3] + 0.5)
    expect(painted[(20 * S + 20) * 3]).toBeCloseTo(none[(20 * S + 20) * 3], 6)
    await block.dispose()
  })
})
