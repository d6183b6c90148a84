import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { initTfBackend } from '../../../src/engine/backend'
import { TINY_MODEL_CONFIG, buildShadowModel } from '../../../src/engine/model/architecture'
import { DEFAULT_TRAIN_OPTIONS, disposeBatch, freezeAllButShadowBlock, isShadowBlockLayer, runTraining, stackBatch } from '../../../src/engine/train/loop'
import { GradientWorkerPool, computeGradients } from '../../../src/engine/train/parallel'
import { buildDiscriminator, defaultDiscriminatorConfig } from '../../../src/engine/model/discriminator'
import { DEFAULT_LOSS_WEIGHTS } from '../../../src/engine/train/losses'
import { NO_AUGMENT, PairDataset, augmentFor, rotateToCastFrame, type TrainExample } from '../../../src/engine/train/data'
import { judgedDarkening } from '../../../src/engine/train/losses'
import { TrainRng } from '../../../src/engine/train/rng'
import { readCheckpointDir } from '../../../src/engine/train/checkpoint'
import { loadTfjsModel } from '../../../src/engine/model-dir'
import { castFrameRotation, rotateSquare } from '../../../src/engine/cast-frame'
import { castSupport, silhouetteDarkening, type ShapePrior } from '../../../src/engine/shape-prior'
import { writeTinyPairSet } from './tiny-pairs'

const CAST_CONFIG = { ...TINY_MODEL_CONFIG, castFrame: 'down' as const, directionHead: true, directionBins: 8 }
const PRIOR: ShapePrior = { modelGain: 0.8, weight: 0.5, lengthPerHeight: 0.9, darkening: [0.5, 0.4, 0.3], support: { reachPerHeight: 3, footBand: 0.3, spreadDeg: 20, softenPx: 2 } }

let root: string
let pairs: string

beforeAll(async () => {
  await initTfBackend('wasm')
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-prior-loss-'))
  pairs = join(root, 'pairs')
  await writeTinyPairSet(pairs, 8, { size: 40 })
})

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

/** A tall thin upright object (image frame) with its shadow cast to the right, s x s. */
function uprightExample(s: number): TrainExample {
  const n = s * s
  const object = new Float32Array(n)
  const objectShadow = new Float32Array(n)
  for (let y = 4; y <= 20; y++) for (let x = 6; x <= 8; x++) object[y * s + x] = 1
  for (let y = 19; y <= 21; y++) for (let x = 9; x <= 24; x++) objectShadow[y * s + x] = 1
  const noShadow = new Float32Array(n * 3).fill(0.6)
  const input = new Float32Array(n * 4)
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) input[i * 4 + c] = 0.6
    input[i * 4 + 3] = object[i]
  }
  return { input, noShadow, shadow: noShadow.slice(), attention: new Float32Array(n * 2), objectShadow, object }
}

describe('training with the silhouette prior in the loss', () => {
  it('casts the prior in the photo frame, where the object stands, and turns it with the crop', () => {
    const s = 32
    const ex = rotateToCastFrame(uprightExample(s), s, 0, new TrainRng(1), 0)
    expect(ex.cast?.turn).toBeCloseTo(castFrameRotation(0), 9)
    const batch = stackBatch([ex], s, PRIOR)
    try {
      const base = batch.prior!.base.dataSync() as Float32Array
      const gain = batch.prior!.gain.dataSync() as Float32Array
      // What the pipeline mixes for this direction (mixShapePrior, photo frame), turned like the crop.
      const turn = ex.cast!.turn
      const projection = rotateSquare(silhouetteDarkening(uprightExample(s).object, s, 0, PRIOR), s, 3, turn, 'zero')
      const support = rotateSquare(castSupport(uprightExample(s).object, s, 0, PRIOR.support!), s, 1, turn, 'zero')
      for (let i = 0; i < base.length; i++) expect(base[i]).toBeCloseTo(PRIOR.weight * projection[i], 6)
      for (let i = 0; i < gain.length; i++) expect(gain[i]).toBeCloseTo(PRIOR.modelGain * support[i], 6)
      // In the turned crop the 17-px-tall object lies on its side and its shadow falls down: the
      // projection reaches about 0.9 x 17 rows below the object, not a projection of its 3-px width.
      let objectBottom = -1, shadowBottom = -1
      for (let i = 0; i < s * s; i++) {
        const y = Math.floor(i / s)
        if (ex.object[i] > 0.5) objectBottom = Math.max(objectBottom, y)
        if (base[i * 3] > 0.05) shadowBottom = Math.max(shadowBottom, y)
      }
      expect(shadowBottom - objectBottom).toBeGreaterThanOrEqual(10)
    } finally {
      disposeBatch(batch)
    }
  })

  it('judges the darkening the pipeline would use: clip(gain x model + base)', () => {
    const gain = tf.tensor4d([0.5, 1, 0, 1], [1, 2, 2, 1])
    const base = tf.tensor4d([0.1, 0.1, 0.1, 0, 0, 0, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9], [1, 2, 2, 3])
    const model = tf.tensor4d([0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.5, 0.5, 0.5], [1, 2, 2, 3])
    const judged = judgedDarkening(model, { prior: { gain, base } })
    expect(Array.from(judged.dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([0.3, 0.3, 0.3, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 1, 1, 1])
    expect(judgedDarkening(model, {})).toBe(model)
    tf.dispose([gain, base, model, judged])
  })

  it('trains only the shadow block, keeps the setting on resume and writes the prior into the model', async () => {
    const out = join(root, 'run')
    const initial = buildShadowModel(CAST_CONFIG)
    const before = new Map(initial.layers.map((l) => [l.name, l.getWeights().map((w) => w.dataSync().slice())]))
    const base = {
      ...DEFAULT_TRAIN_OPTIONS,
      dataDir: pairs,
      outDir: out,
      batch: 2,
      modelConfig: CAST_CONFIG,
      ganStartStep: 1,
      checkpointEverySteps: 2,
      checkpointEverySeconds: 3600,
      valSamples: 2,
      backend: 'wasm',
      saveModels: true,
      augment: NO_AUGMENT,
    }
    await runTraining({ ...base, steps: 2, initialGenerator: initial, shapePrior: PRIOR, trainOnly: 'shadow', workers: 2 })
    const lines: string[] = []
    await runTraining({ ...base, steps: 3, resume: true, log: (l) => lines.push(l) })
    expect(lines.some((l) => l.includes('shadow block only'))).toBe(true)
    expect(lines.some((l) => l.includes('shape prior in the loss'))).toBe(true)
    const ckpt = await readCheckpointDir<{ shapePrior?: ShapePrior; trainOnly?: string }>(join(out, 'checkpoint'))
    expect(ckpt.meta.shapePrior).toEqual(PRIOR)
    expect(ckpt.meta.trainOnly).toBe('shadow')
    tf.dispose(Object.values(ckpt.groups).flat())

    const { model, manifest } = await loadTfjsModel(join(out, 'model'))
    expect(manifest.shapePrior).toEqual(PRIOR)
    expect(manifest.training?.steps).toBe(3)
    let changed = 0
    for (const layer of model.layers) {
      const was = before.get(layer.name)!
      const now = layer.getWeights().map((w) => w.dataSync())
      const same = now.every((w, k) => w.every((v, i) => v === was[k][i]))
      if (isShadowBlockLayer(layer.name)) changed += same ? 0 : 1
      else expect(same, layer.name).toBe(true)
    }
    expect(changed).toBeGreaterThan(3)
    model.dispose()
    initial.dispose()
  })

  it('a gradient worker freezes the same layers with the same frozen weights and judges with the prior', async () => {
    const s = CAST_CONFIG.size
    const ds = new PairDataset(pairs, s, 0)
    await ds.rescan()
    const examples = await ds.batch(2, new TrainRng(4), augmentFor(NO_AUGMENT, CAST_CONFIG))
    for (const e of examples) delete e.view
    const discConfig = defaultDiscriminatorConfig(s)
    const gen = buildShadowModel(CAST_CONFIG)
    freezeAllButShadowBlock(gen)
    const disc = buildDiscriminator(discConfig)
    const gVars = gen.trainableWeights.map((w) => w.read() as tf.Variable)
    const dVars = disc.trainableWeights.map((w) => w.read() as tf.Variable)
    expect(gVars.length).toBeLessThan(gen.weights.length)
    const batch = stackBatch(examples, s, PRIOR)
    const local = computeGradients(gen, disc, gVars, dVars, batch, DEFAULT_LOSS_WEIGHTS, false)
    disposeBatch(batch)
    const frozenWeights = gen.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array)
    const pool = await GradientWorkerPool.start(1, { modelConfig: CAST_CONFIG, discConfig, backend: 'wasm', shapePrior: PRIOR, trainOnly: 'shadow', frozenWeights })
    try {
      const [remote] = await pool.run([examples], gVars.map((v) => v.dataSync() as Float32Array), dVars.map((v) => v.dataSync() as Float32Array), DEFAULT_LOSS_WEIGHTS, false)
      expect(remote.losses.total).toBeCloseTo(local.losses.total, 5)
      expect(remote.g.length).toBe(local.g.length)
      remote.g.forEach((g, k) => {
        let maxDiff = 0, maxRef = 1e-8
        for (let i = 0; i < g.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(g[i] - local.g[k][i]))
          maxRef = Math.max(maxRef, Math.abs(local.g[k][i]))
        }
        expect(maxDiff / maxRef).toBeLessThan(1e-4)
      })
    } finally {
      await pool.stop()
      gen.dispose()
      disc.dispose()
    }
  })

  it('refuses a prior for a model outside the cast frame', async () => {
    const ds = new PairDataset(pairs, TINY_MODEL_CONFIG.size, 0)
    await ds.rescan()
    const [ex] = await ds.batch(1, new TrainRng(2), augmentFor(NO_AUGMENT, TINY_MODEL_CONFIG))
    expect(() => stackBatch([ex], TINY_MODEL_CONFIG.size, PRIOR)).toThrow(/cast-frame examples/)
    await expect(
      runTraining({ ...DEFAULT_TRAIN_OPTIONS, dataDir: pairs, outDir: join(root, 'image-frame'), steps: 1, batch: 1, modelConfig: TINY_MODEL_CONFIG, valSamples: 0, backend: 'wasm', saveModels: false, shapePrior: PRIOR }),
    ).rejects.toMatchObject({ code: 'BAD_ARGS' })
  })
})
