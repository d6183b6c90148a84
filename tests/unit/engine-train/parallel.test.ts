import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { initTfBackend } from '../../../src/engine/backend'
import { buildShadowModel, TINY_MODEL_CONFIG } from '../../../src/engine/model/architecture'
import { buildDiscriminator, defaultDiscriminatorConfig } from '../../../src/engine/model/discriminator'
import { DEFAULT_TRAIN_OPTIONS, runTraining, stackBatch } from '../../../src/engine/train/loop'
import { GradientWorkerPool, averageGradients, computeGradients } from '../../../src/engine/train/parallel'
import { NO_AUGMENT, PairDataset } from '../../../src/engine/train/data'
import { DEFAULT_LOSS_WEIGHTS } from '../../../src/engine/train/losses'
import { TrainRng } from '../../../src/engine/train/rng'
import { loadCheckpoint } from '../../../src/engine/train/checkpoint'
import { writeTinyPairSet } from './tiny-pairs'

let root: string

beforeAll(async () => {
  await initTfBackend('wasm')
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-par-'))
  await writeTinyPairSet(join(root, 'pairs'), 6, { size: 40 })
})

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

describe('data-parallel training', () => {
  it('averages gradients weighted by sample count', () => {
    const avg = averageGradients([
      { grads: [new Float32Array([1, 2])], count: 1 },
      { grads: [new Float32Array([4, 8])], count: 3 },
    ])
    expect(Array.from(avg[0])).toEqual([3.25, 6.5])
  })

  it('a worker thread computes the same gradients as this thread for the same slice and weights', async () => {
    const s = TINY_MODEL_CONFIG.size
    const ds = new PairDataset(join(root, 'pairs'), s, 0)
    await ds.rescan()
    const examples = await ds.batch(2, new TrainRng(9), NO_AUGMENT)
    const discConfig = defaultDiscriminatorConfig(s)
    const gen = buildShadowModel(TINY_MODEL_CONFIG)
    const disc = buildDiscriminator(discConfig)
    const gVars = gen.trainableWeights.map((w) => w.read() as tf.Variable)
    const dVars = disc.trainableWeights.map((w) => w.read() as tf.Variable)
    const batch = stackBatch(examples, s)
    const local = computeGradients(gen, disc, gVars, dVars, batch, DEFAULT_LOSS_WEIGHTS, true)
    tf.dispose(Object.values(batch).filter((t): t is tf.Tensor => t instanceof tf.Tensor))
    const pool = await GradientWorkerPool.start(1, { modelConfig: TINY_MODEL_CONFIG, discConfig, backend: 'wasm' })
    try {
      const [remote] = await pool.run([examples], gVars.map((v) => v.dataSync() as Float32Array), dVars.map((v) => v.dataSync() as Float32Array), DEFAULT_LOSS_WEIGHTS, true)
      expect(remote.count).toBe(2)
      expect(remote.losses.total).toBeCloseTo(local.losses.total, 5)
      remote.g.forEach((g, k) => {
        const ref = local.g[k]
        let maxDiff = 0, maxRef = 1e-8
        for (let i = 0; i < ref.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(g[i] - ref[i]))
          maxRef = Math.max(maxRef, Math.abs(ref[i]))
        }
        expect(maxDiff / maxRef).toBeLessThan(1e-4)
      })
      expect(remote.d).not.toBeNull()
    } finally {
      await pool.stop()
      gen.dispose()
      disc.dispose()
    }
  })

  it('runTraining with 2 threads trains, checkpoints, and resumes single-threaded', async () => {
    const out = join(root, 'run')
    const base = { ...DEFAULT_TRAIN_OPTIONS, dataDir: join(root, 'pairs'), outDir: out, batch: 4, modelConfig: TINY_MODEL_CONFIG, ganStartStep: 1, valSamples: 0, backend: 'wasm', saveModels: false }
    const r = await runTraining({ ...base, steps: 3, workers: 2 })
    expect(r.step).toBe(3)
    expect(Number.isFinite(r.lastLosses?.total)).toBe(true)
    const resumed = await runTraining({ ...base, steps: 4, resume: true, workers: 1 })
    expect(resumed.startStep).toBe(3)
    const ck = await loadCheckpoint(out)
    expect(ck?.step).toBe(4)
    tf.dispose(Object.values(ck!.groups).flat())
  })
})
