import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { runFinetune, type FinetuneEvent } from '../../../src/jobs/finetune/job'
import { loadTfjsModel, readModelManifest, writeShapePrior } from '../../../src/engine/model-dir'
import { NO_AUGMENT } from '../../../src/engine/train/data'
import { writePairFolder, writeTinyModel } from './fixtures'

let root: string
let pairs: string
let base: string

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-ft-job-'))
  pairs = join(root, 'pairs')
  base = join(root, 'base')
  await writePairFolder(pairs, 8, { size: 40, withObjectShadow: false })
  await writeTinyModel(base)
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

const quick = { batch: 2, backend: 'wasm' as const, augment: NO_AUGMENT, ganStartStep: 1000, checkpointEverySeconds: 600 }

async function weightsOf(dir: string): Promise<Float32Array[]> {
  const { model } = await loadTfjsModel(dir)
  const out = model.getWeights().map((w) => w.dataSync() as Float32Array)
  model.dispose()
  return out
}

describe('fine-tune job', () => {
  it('a few steps change the model, and the result carries its metadata', async () => {
    const out = join(root, 'few')
    const events: FinetuneEvent[] = []
    const r = await runFinetune({ ...quick, pairsDir: pairs, outDir: out, fromModelDir: base, steps: 3, lr: 1e-3, validateEverySteps: 3, name: 'studio-look', onEvent: (e) => events.push(e) })
    expect(r.status).toBe('finished')
    expect(r.lastStep).toBe(3)
    const [a, b] = [await weightsOf(base), await weightsOf(out)]
    expect(a.length).toBe(b.length)
    const changed = a.some((w, i) => w.some((v, k) => Math.abs(v - b[i][k]) > 1e-7))
    expect(changed).toBe(true)
    const m = await readModelManifest(out)
    expect(m.name).toBe('studio-look')
    expect(m.baseModel).toBe('tiny-base')
    expect(m.training?.steps).toBe(3)
    const ft = (m.training as unknown as { finetune: { trainPairs: number; validationPairs: number; derivedObjectShadow: number } }).finetune
    expect(ft.trainPairs + ft.validationPairs).toBe(8)
    expect(ft.validationPairs).toBeGreaterThan(0)
    expect(ft.derivedObjectShadow).toBe(8)
    // Every fixture pair casts to the lower right: the model keeps that light for the pipeline.
    const prior = m.training?.lightPrior
    expect(prior?.pairs).toBe(ft.trainPairs)
    expect(prior?.angleDeg).toBeGreaterThan(20)
    expect(prior?.angleDeg).toBeLessThan(80)
    expect(prior?.kappa).toBeGreaterThan(4)
    const val = (m.metrics as { validation: { before: { LRMSE: number }; after: { LRMSE: number } } }).validation
    expect(val.before.LRMSE).toBeGreaterThan(0)
    expect(val.after.LRMSE).toBeGreaterThan(0)
    expect(events.some((e) => e.type === 'checked')).toBe(true)
    expect(events.filter((e) => e.type === 'step').map((e) => (e as { step: number }).step)).toEqual([1, 2, 3])
    const step = events.find((e) => e.type === 'step') as Extract<FinetuneEvent, { type: 'step' }>
    expect(step.etaSeconds).toBeGreaterThanOrEqual(0)
    expect(Number.isFinite(step.losses.total)).toBe(true)
    expect(tf.memory().numTensors).toBeLessThan(50)
  })

  it("keeps the base model's silhouette prior", async () => {
    const withPrior = join(root, 'base-with-prior')
    await fs.cp(base, withPrior, { recursive: true })
    const basePrior = { modelGain: 0.8, weight: 0.5, lengthPerHeight: 3, darkening: [0.9, 0.9, 0.9] as [number, number, number] }
    await writeShapePrior(withPrior, basePrior)
    const out = join(root, 'with-prior')
    const r = await runFinetune({ ...quick, pairsDir: pairs, outDir: out, fromModelDir: withPrior, steps: 1, lr: 1e-3, validateEverySteps: 100 })
    expect(r.status).toBe('finished')
    expect((await readModelManifest(out)).shapePrior).toEqual(basePrior)
    // a base without one gives a model without one
    expect((await readModelManifest(join(root, 'few'))).shapePrior).toBeUndefined()
  })

  it('a base trained with its prior in the loss is fine-tuned with it, and says so', async () => {
    const prior = { modelGain: 0.8, weight: 0.5, lengthPerHeight: 1, darkening: [0.6, 0.6, 0.6] as [number, number, number] }
    const withFlag = join(root, 'cast-with')
    await writeTinyModel(withFlag, 'tiny-cast', { castFrame: true, shapePrior: prior, shapePriorInLoss: true })
    // The same weights and prior, trained (as far as its manifest says) without the prior in the loss.
    const withoutFlag = join(root, 'cast-without')
    await fs.cp(withFlag, withoutFlag, { recursive: true })
    const manifestPath = join(withoutFlag, 'manifest.json')
    const manifest = JSON.parse(await fs.readFile(manifestPath, 'utf8')) as { training: Record<string, unknown> }
    delete manifest.training.shapePriorInLoss
    await fs.writeFile(manifestPath, JSON.stringify(manifest))
    const tune = async (from: string) => {
      const out = `${from}-out`
      const r = await runFinetune({ ...quick, pairsDir: pairs, outDir: out, fromModelDir: from, steps: 1, lr: 1e-3, validateEverySteps: 100 })
      expect(r.status).toBe('finished')
      const m = await readModelManifest(out)
      expect(m.shapePrior).toEqual(prior)
      return { flag: m.training?.shapePriorInLoss, before: (m.metrics as { validation: { before: { LRMSE: number } } }).validation.before.LRMSE }
    }
    const judgedWith = await tune(withFlag)
    const judgedWithout = await tune(withoutFlag)
    expect(judgedWith.flag).toBe(true)
    expect(judgedWithout.flag).toBeUndefined()
    // The base's validation is judged with the projection mixed in: the same weights score otherwise.
    expect(Math.abs(judgedWith.before - judgedWithout.before)).toBeGreaterThan(0.5)
  })

  it('the training loss falls on a tiny set', async () => {
    const losses: number[] = []
    await runFinetune({ ...quick, pairsDir: pairs, outDir: join(root, 'falls'), fromModelDir: base, steps: 40, lr: 3e-3, validateEverySteps: 100, onEvent: (e) => e.type === 'step' && losses.push(e.losses.total) })
    expect(losses).toHaveLength(40)
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length
    expect(mean(losses.slice(-8))).toBeLessThan(mean(losses.slice(0, 8)) * 0.9)
  })

  it('pauses with a checkpoint and resumes from it; cancel removes the run', async () => {
    const out = join(root, 'pause')
    const ctrl = new AbortController()
    const paused = await runFinetune({
      ...quick,
      pairsDir: pairs,
      outDir: out,
      fromModelDir: base,
      steps: 50,
      lr: 1e-3,
      validateEverySteps: 2,
      signal: ctrl.signal,
      onEvent: (e) => e.type === 'step' && e.step === 3 && ctrl.abort('pause'),
    })
    expect(paused.status).toBe('paused')
    expect(paused.lastStep).toBeGreaterThanOrEqual(3)
    await expect(fs.stat(out)).rejects.toThrow() // nothing saved as a model yet
    // a second start without resume is refused: the run is there
    await expect(runFinetune({ ...quick, pairsDir: pairs, outDir: out, fromModelDir: base, steps: 6 })).rejects.toThrow(/already holds a fine-tune run/)
    let startedAt = -1
    const resumed = await runFinetune({ ...quick, pairsDir: '', outDir: out, fromModelDir: '', steps: paused.lastStep + 2, resume: true, onEvent: (e) => e.type === 'started' && (startedAt = e.step) })
    expect(startedAt).toBe(paused.lastStep)
    expect(resumed.status).toBe('finished')
    expect(resumed.lastStep).toBe(paused.lastStep + 2)
    expect(resumed.before).toEqual(paused.before)

    const out2 = join(root, 'cancel')
    const ctrl2 = new AbortController()
    const cancelled = await runFinetune({ ...quick, pairsDir: pairs, outDir: out2, fromModelDir: base, steps: 50, lr: 1e-3, signal: ctrl2.signal, onEvent: (e) => e.type === 'step' && ctrl2.abort('cancel') })
    expect(cancelled.status).toBe('cancelled')
    await expect(fs.stat(`${out2}.run`)).rejects.toThrow()
  })

  it('a resume without a step count continues up to the step count of the run', async () => {
    const out = join(root, 'resume-steps')
    const ctrl = new AbortController()
    const first = await runFinetune({ ...quick, pairsDir: pairs, outDir: out, fromModelDir: base, steps: 7, lr: 1e-3, validateEverySteps: 2, signal: ctrl.signal, onEvent: (e) => e.type === 'step' && e.step === 2 && ctrl.abort('pause') })
    expect(first.status).toBe('paused')
    const second = await runFinetune({ ...quick, pairsDir: '', outDir: out, fromModelDir: '', resume: true })
    expect(second.status).toBe('finished')
    expect(second.lastStep).toBe(7)
  })

  it('stops early when validation stops improving', async () => {
    // lr 0: the weights never move, so validation never improves on the base model.
    const r = await runFinetune({ ...quick, pairsDir: pairs, outDir: join(root, 'early'), fromModelDir: base, steps: 100, lr: 0, validateEverySteps: 2, patience: 2 })
    expect(r.status).toBe('stopped-early')
    expect(r.lastStep).toBe(4)
    expect(r.warnings.join(' ')).toMatch(/did not improve on the base model/)
  })

  it('refuses a folder with no usable pairs, naming the reason', async () => {
    const empty = join(root, 'nopairs')
    await fs.mkdir(join(empty, 'a'), { recursive: true })
    await fs.writeFile(join(empty, 'a', 'noshadow.png'), 'x')
    await expect(runFinetune({ ...quick, pairsDir: empty, outDir: join(root, 'np'), fromModelDir: base, steps: 2 })).rejects.toThrow(/no usable pairs.*missing shadow\.png/)
  })
})
