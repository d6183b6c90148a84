import { describe, expect, it, beforeAll, afterAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { initTfBackend } from '../../../src/engine/backend'
import { TINY_MODEL_CONFIG, buildShadowModel } from '../../../src/engine/model/architecture'
import { buildDiscriminator, defaultDiscriminatorConfig } from '../../../src/engine/model/discriminator'
import { DEFAULT_TRAIN_OPTIONS, disposeBatch, generatorLrAt, runTraining, stackBatch, trainStep, validate, type TrainOptions } from '../../../src/engine/train/loop'
import { NO_AUGMENT, PairDataset, augmentFor, scanPairFolder } from '../../../src/engine/train/data'
import { DEFAULT_LOSS_WEIGHTS } from '../../../src/engine/train/losses'
import { TrainRng } from '../../../src/engine/train/rng'
import { transferWeights, loadCheckpoint, readCheckpointDir } from '../../../src/engine/train/checkpoint'
import { writeTinyPair, writeTinyPairSet } from './tiny-pairs'

let root: string
let pairs: string

beforeAll(async () => {
  await initTfBackend('wasm')
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-train-'))
  pairs = join(root, 'pairs')
  await writeTinyPairSet(pairs, 10, { size: 40 })
})

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

function options(outDir: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    dataDir: pairs,
    outDir,
    steps: 4,
    batch: 2,
    modelConfig: TINY_MODEL_CONFIG,
    ganStartStep: 2,
    checkpointEverySteps: 2,
    checkpointEverySeconds: 3600,
    valSamples: 0,
    backend: 'wasm',
    saveModels: false,
    ...extra,
  }
}

describe('the training random numbers', () => {
  it('a permutation holds every index once, in an order its seed decides', () => {
    const a = new TrainRng(9).permutation(50)
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(new TrainRng(9).permutation(50)).toEqual(a)
    expect(new TrainRng(10).permutation(50)).not.toEqual(a)
    expect(new TrainRng(1).permutation(0)).toEqual([])
  })
})

describe('pair folder scanning', () => {
  it('skips incomplete samples, hidden temp folders and held-out seeds', async () => {
    const dir = join(root, 'scan')
    await writeTinyPair(join(dir, 'a'), { seed: 5 })
    await writeTinyPair(join(dir, '.a.123.tmp'), { seed: 6 })
    await writeTinyPair(join(dir, 'heldout'), { seed: 9_000_001 })
    await writeTinyPair(join(dir, 'broken'), { seed: 7 })
    await fs.rm(join(dir, 'broken', 'shadow.png'))
    await fs.writeFile(join(dir, 'stray.txt'), 'x')
    expect((await scanPairFolder(dir)).map((e) => e.id)).toEqual(['a'])
    expect((await scanPairFolder(dir, { includeHeldOut: true })).map((e) => e.id)).toEqual(['a', 'heldout'])
  })

  it('says clearly when the folder does not exist', async () => {
    await expect(scanPairFolder(join(root, 'nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('training', () => {
  it('a few steps on a tiny set reduce the loss', async () => {
    const s = TINY_MODEL_CONFIG.size
    const ds = new PairDataset(pairs, s, 0)
    await ds.rescan()
    const examples = await ds.batch(4, new TrainRng(3), NO_AUGMENT)
    const gen = buildShadowModel(TINY_MODEL_CONFIG)
    const disc = buildDiscriminator(defaultDiscriminatorConfig(s))
    const optG = tf.train.adam(3e-3)
    const optD = tf.train.adam(1e-5)
    const gVars = gen.trainableWeights.map((w) => w.read() as tf.Variable)
    const dVars = disc.trainableWeights.map((w) => w.read() as tf.Variable)
    const losses: number[] = []
    const l1: number[] = []
    const before = tf.memory().numTensors
    for (let i = 0; i < 40; i++) {
      const l = trainStep(gen, disc, optG, optD, gVars, dVars, stackBatch(examples, s), DEFAULT_LOSS_WEIGHTS, false)
      losses.push(l.total)
      l1.push(l.darkening)
    }
    // Adam creates its moment variables on the first step; after that the step count must not grow.
    const afterFirst = tf.memory().numTensors
    trainStep(gen, disc, optG, optD, gVars, dVars, stackBatch(examples, s), DEFAULT_LOSS_WEIGHTS, false)
    expect(tf.memory().numTensors).toBe(afterFirst)
    expect(afterFirst).toBeGreaterThan(before)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) * 0.85)
    expect(mean(l1.slice(-3))).toBeLessThan(mean(l1.slice(0, 3)))
    gen.dispose()
    disc.dispose()
    optG.dispose()
    optD.dispose()
  })

  it('a direction output learns the cast angle from the unturned views, and a grown model keeps the old weights', async () => {
    const config = { ...TINY_MODEL_CONFIG, castFrame: 'down' as const, directionHead: true, directionBins: 16 }
    const s = config.size
    const ds = new PairDataset(pairs, s, 0)
    await ds.rescan()
    // Flips send the tiny pairs' shadows down-left and down-right: two directions to tell apart.
    const aug = augmentFor({ ...NO_AUGMENT, flip: 0.5, castJitter: 0 }, config)
    const examples = await ds.batch(8, new TrainRng(5), aug)
    expect(examples.every((e) => e.view && e.view.direction)).toBe(true)
    expect(new Set(examples.map((e) => Math.sign(e.view!.direction![0]))).size).toBe(2)

    // Grown from a model without the output: every other layer keeps its weights.
    const old = buildShadowModel({ ...config, directionHead: false })
    const gen = buildShadowModel(config)
    expect(transferWeights(gen, old)).toEqual({ fresh: ['dir_down0', 'dir_down1', 'dir_mix', 'direction_bins'], widened: [] })
    const x = stackBatch(examples.slice(0, 2), s)
    const same = tf.tidy(() => {
      const a = old.predict(x.input) as tf.Tensor[]
      const b = gen.predict(x.input) as tf.Tensor[]
      return tf.max(tf.abs(tf.sub(a[1], b[1]))).dataSync()[0]
    })
    expect(same).toBe(0)
    disposeBatch(x)
    old.dispose()

    const disc = buildDiscriminator(defaultDiscriminatorConfig(s))
    const optG = tf.train.adam(3e-3)
    const optD = tf.train.adam(1e-5)
    const gVars = gen.trainableWeights.map((w) => w.read() as tf.Variable)
    const dVars = disc.trainableWeights.map((w) => w.read() as tf.Variable)
    const first = validate(gen, examples, s).direction
    expect(first?.meanConfidence).toBeCloseTo(3 / 16, 6) // a fresh output has no opinion: uniform over the bins
    const dir: number[] = []
    for (let i = 0; i < 80; i++) dir.push(trainStep(gen, disc, optG, optD, gVars, dVars, stackBatch(examples, s), DEFAULT_LOSS_WEIGHTS, false).direction)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(dir.slice(0, 3))).toBeGreaterThan(0.5)
    expect(mean(dir.slice(-3))).toBeLessThan(mean(dir.slice(0, 3)) * 0.5)
    const after = validate(gen, examples, s).direction
    expect(after?.count).toBe(8)
    expect(after!.medianErrorDeg).toBeLessThan(45)
    expect(after!.meanConfidence).toBeGreaterThan(0.5)
    gen.dispose()
    disc.dispose()
    optG.dispose()
    optD.dispose()
  })

  it('widens a trained model into wider layers without changing what it computes', () => {
    const narrow = buildShadowModel({ ...TINY_MODEL_CONFIG, attentionWidths: [4, 6, 8], shadowWidths: [4, 6, 8], refineWidth: 4 })
    const wide = buildShadowModel({ ...TINY_MODEL_CONFIG, attentionWidths: [8, 8, 16], shadowWidths: [8, 16, 16], refineWidth: 8, castFrame: 'down', directionHead: true, directionBins: 16 })
    // Weights a fresh model would not have (the darkening bias starts flat): a real test of the channel maps.
    for (const l of narrow.layers) if (l.getWeights().length > 0) l.setWeights(l.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.4, 'float32', 11 + i)))
    const { fresh, widened } = transferWeights(wide, narrow)
    expect(fresh).toEqual(['dir_down0', 'dir_down1', 'dir_mix', 'direction_bins'])
    expect(widened).toContain('att_enc0a')
    expect(widened).toContain('sh_dec0')
    expect(widened).toContain('refine_out') // its inputs grew
    const s = TINY_MODEL_CONFIG.size
    const x = tf.randomUniform([2, s, s, 4], 0, 1, 'float32', 3)
    const diffs = tf.tidy(() => {
      const a = narrow.predict(x) as tf.Tensor[]
      const b = wide.predict(x) as tf.Tensor[]
      return [0, 1].map((k) => tf.max(tf.abs(tf.sub(a[k], b[k]))).dataSync()[0])
    })
    expect(diffs[0]).toBeLessThan(1e-5)
    expect(diffs[1]).toBeLessThan(1e-5)
    // It cannot shrink.
    const narrower = buildShadowModel({ ...TINY_MODEL_CONFIG, attentionWidths: [2, 6, 8], shadowWidths: [4, 6, 8], refineWidth: 4 })
    expect(() => transferWeights(narrower, narrow)).toThrow(/cannot grow/)
    tf.dispose(x)
    for (const m of [narrow, wide, narrower]) m.dispose()
  })

  it('writes a checkpoint, refuses to overwrite a run, and resumes with the same step and weights', async () => {
    const out = join(root, 'run-resume')
    const first = await runTraining(options(out))
    expect(first.step).toBe(4)
    const ckpt = await readCheckpointDir<{ rngState: number }>(join(out, 'checkpoint'))
    expect(ckpt.step).toBe(4)
    const saved = ckpt.groups.generator.map((t) => t.dataSync().slice())
    tf.dispose(Object.values(ckpt.groups).flat())

    await expect(runTraining(options(out))).rejects.toMatchObject({ code: 'RUN_EXISTS' })

    let restored: Float32Array[] = []
    let startStep = -1
    const resumed = await runTraining(
      options(out, {
        resume: true,
        steps: 6,
        onStart: ({ step, generator }) => {
          startStep = step
          restored = generator.getWeights().map((t) => t.dataSync().slice() as Float32Array)
        },
      }),
    )
    expect(startStep).toBe(4)
    expect(resumed.startStep).toBe(4)
    expect(resumed.step).toBe(6)
    expect(restored).toHaveLength(saved.length)
    restored.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(saved[i])))
    // the loss log holds each step once
    const steps = (await fs.readFile(join(out, 'loss-log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; total?: number }).filter((r) => r.total !== undefined).map((r) => r.step)
    expect(steps).toEqual([1, 2, 3, 4, 5, 6])
    await fs.stat(join(out, 'loss.png'))
    await fs.stat(join(out, 'previews', 'latest.png'))
  })

  it('a resumed run keeps the fixed balance cap and attention positive-class cap it was started with', async () => {
    const out = join(root, 'run-cap')
    await runTraining(options(out, { steps: 2, lossWeights: { ...DEFAULT_TRAIN_OPTIONS.lossWeights, shadowBalanceCap: 8, attentionPositiveCap: 1 } }))
    const ckpt = await readCheckpointDir<{ shadowBalanceCap?: number; attentionPositiveCap?: number }>(join(out, 'checkpoint'))
    expect(ckpt.meta.shadowBalanceCap).toBe(8)
    expect(ckpt.meta.attentionPositiveCap).toBe(1)
    tf.dispose(Object.values(ckpt.groups).flat())
    const lines: string[] = []
    await runTraining(options(out, { resume: true, steps: 3, log: (l) => lines.push(l) }))
    expect(lines.some((l) => l.includes('balance cap fixed at 8'))).toBe(true)
    expect(lines.some((l) => l.includes('attention positive-class cap 1'))).toBe(true)
    const again = await readCheckpointDir<{ shadowBalanceCap?: number; attentionPositiveCap?: number }>(join(out, 'checkpoint'))
    expect(again.meta.shadowBalanceCap).toBe(8)
    expect(again.meta.attentionPositiveCap).toBe(1)
    tf.dispose(Object.values(again.groups).flat())
  })

  it('--lr-end anneals the generator rate along a cosine to --steps, and a resume continues that schedule', async () => {
    const decay = { fromStep: 10, toStep: 20, endLr: 1e-5 }
    expect(generatorLrAt(0, 1e-3, undefined)).toBe(1e-3)
    expect(generatorLrAt(10, 1e-3, decay)).toBe(1e-3)
    expect(generatorLrAt(15, 1e-3, decay)).toBeCloseTo((1e-3 + 1e-5) / 2, 12)
    expect(generatorLrAt(12, 1e-3, decay)).toBeGreaterThan(generatorLrAt(13, 1e-3, decay))
    expect(generatorLrAt(25, 1e-3, decay)).toBe(1e-5)

    const out = join(root, 'run-lr-end')
    // Killed at step 2 of 4 (as by Ctrl-C), then resumed with the same --steps and no --lr-end.
    const stop = new AbortController()
    await runTraining(options(out, { steps: 4, lrG: 1e-3, lrEnd: 1e-4, signal: stop.signal, onProgress: (p) => p.step >= 2 && stop.abort() }))
    const lines: string[] = []
    await runTraining(options(out, { resume: true, steps: 4, log: (l) => lines.push(l) }))
    expect(lines.some((l) => l.includes('cosine down to 0.0001 at step 4 (as the run was started)'))).toBe(true)
    const logged = (await fs.readFile(join(out, 'loss-log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number; lr?: number }).filter((r) => r.lr !== undefined)
    // The rate each logged step trained with: lrG at the start, then falling to lrEnd at step 4.
    expect(logged.map((r) => r.step)).toEqual([1, 2, 3, 4])
    expect(logged.map((r) => r.lr)).toEqual([0, 1, 2, 3].map((k) => Number(generatorLrAt(k, 1e-3, { fromStep: 0, toStep: 4, endLr: 1e-4 }).toPrecision(4))))
    expect(logged[3].lr).toBeLessThan(logged[0].lr!)
  })

  it('refuses a second training in a run folder that is in use, and takes over a lock its dead owner left', async () => {
    const out = join(root, 'run-lock')
    const first = runTraining(options(out, { steps: 3 }))
    await expect(runTraining(options(out, { steps: 3 }))).rejects.toMatchObject({ code: 'RUN_BUSY' })
    expect((await first).step).toBe(3)
    await expect(fs.stat(join(out, '.lock'))).rejects.toMatchObject({ code: 'ENOENT' })
    // A process that has exited: its lock is stale.
    const { spawnSync } = await import('node:child_process')
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
    await fs.writeFile(join(out, '.lock'), String(dead))
    expect((await runTraining(options(out, { resume: true, steps: 4 }))).step).toBe(4)
    // A run that fails before writing anything leaves no folder behind.
    const missing = join(root, 'run-no-data')
    await expect(runTraining(options(missing, { dataDir: join(root, 'no-such-pairs') }))).rejects.toThrow()
    await expect(fs.stat(missing)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('detects a corrupt checkpoint and does not load it', async () => {
    const out = join(root, 'run-corrupt')
    await runTraining(options(out, { steps: 2 }))
    const bin = join(out, 'checkpoint', 'generator.bin')
    const data = await fs.readFile(bin)
    data[data.length >> 1] ^= 0xff
    await fs.writeFile(bin, data)
    await expect(runTraining(options(out, { resume: true, steps: 3 }))).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT' })
    await fs.writeFile(join(out, 'checkpoint', 'state.json'), '{"format": "umbra-train-chec')
    await expect(loadCheckpoint(out)).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT' })
  })

  it('recovers the previous checkpoint when a crash hit between the two renames of an atomic replace', async () => {
    const out = join(root, 'run-crash')
    await runTraining(options(out, { steps: 2 }))
    // What writeDirAtomic leaves if killed after moving the old folder aside: only the .old copy.
    await fs.rename(join(out, 'checkpoint'), join(out, '.checkpoint.999.abcd.tmp.old'))
    const loaded = await loadCheckpoint(out)
    expect(loaded?.step).toBe(2)
    tf.dispose(Object.values(loaded!.groups).flat())
    await fs.stat(join(out, 'checkpoint', 'state.json'))
  })

  it('stops on abort with a checkpoint that resumes', async () => {
    const out = join(root, 'run-abort')
    const controller = new AbortController()
    const r = await runTraining(
      options(out, {
        steps: 100,
        checkpointEverySteps: 0,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.event === 'step' && p.step === 3) controller.abort()
        },
      }),
    )
    expect(r.aborted).toBe(true)
    expect(r.step).toBe(3)
    const loaded = await loadCheckpoint(out)
    expect(loaded?.step).toBe(3)
    tf.dispose(Object.values(loaded!.groups).flat())
  })
})

describe('several pair folders', () => {
  it('reads comma-separated folders as one training set', async () => {
    const extra = join(root, 'pairs-b')
    await writeTinyPairSet(extra, 3, { size: 40, seed: 500 })
    const ds = new PairDataset(`${pairs},${extra}`, 32, 0)
    await ds.rescan()
    expect(ds.trainCount).toBe(13)
  })
})
