import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { initTfBackend } from '../../../src/engine/backend'
import { baselineMethod, evaluate, formatTable, type EvalMethod } from '../../../src/engine/evaluate'
import { buildShadowModel, TINY_MODEL_CONFIG, ARCHITECTURE_VERSION } from '../../../src/engine/model/architecture'
import { saveModelDir } from '../../../src/engine/model-dir'
import { createShadowEngine } from '../../../src/engine/inference'
import { generateShadow } from '../../../src/engine/pipeline'
import { writeTinyPairSet } from './tiny-pairs'

let root: string

beforeAll(async () => {
  await initTfBackend('wasm')
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-eval-'))
  await writeTinyPairSet(join(root, 'pairs'), 4, { size: 64, seed: 9_000_000 })
})

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

describe('evaluate', () => {
  it('scores baselines on held-out pairs, writes the per-sample CSV, summary and comparison sheet', async () => {
    const out = join(root, 'eval-baselines')
    const r = await evaluate(join(root, 'pairs'), [baselineMethod('identity'), baselineMethod('geometric')], out)
    expect(r.samples).toHaveLength(4) // held-out seeds are what eval is for: not skipped
    expect(r.means.identity.BER).toBe(50)
    expect(r.means.identity.LRMSE).toBeGreaterThan(10)
    // the geometric baseline darkens something near the object: its local error is not above doing nothing by much
    expect(Number.isFinite(r.means.geometric.LRMSE)).toBe(true)
    const csv = (await fs.readFile(join(out, 'per-sample.csv'), 'utf8')).trim().split('\n')
    expect(csv[0]).toContain('identity.GRMSE')
    expect(csv).toHaveLength(5)
    const png = await fs.readFile(join(out, 'comparison.png'))
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    expect(formatTable(r)).toMatch(/identity\s+\d/)
  })

  it('runs a model folder through the shadow pipeline', async () => {
    const model = buildShadowModel(TINY_MODEL_CONFIG)
    const dir = join(root, 'model')
    await saveModelDir(dir, model, { name: 'tiny', inputSize: TINY_MODEL_CONFIG.size, architectureVersion: ARCHITECTURE_VERSION, architecture: { ...TINY_MODEL_CONFIG } })
    model.dispose()
    const engine = await createShadowEngine({ modelDir: dir, runtime: 'onnx' })
    try {
      const method: EvalMethod = { name: 'model', predict: async (s) => (await generateShadow(engine, { image: s.noShadow, mask: s.object }, { layer: false })).composite }
      const r = await evaluate(join(root, 'pairs'), [method], join(root, 'eval-model'), { limit: 2 })
      expect(r.samples).toHaveLength(2)
      expect(Number.isFinite(r.means.model.GRMSE)).toBe(true)
    } finally {
      await engine.dispose()
    }
  })
})
