import * as tf from '@tensorflow/tfjs'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { UserError } from '../../core/errors'
import { withFolderLock, writeFileAtomic } from '../../core/atomic'
import { ARCHITECTURE_VERSION, attentionView, buildShadowModel, DEFAULT_MODEL_CONFIG, hasDirectionOutput, modelGflops, type ShadowModelConfig } from '../model/architecture'
import { angleDifference, CAST_DOWN, directionMode, directionPosterior, rotateSquare } from '../cast-frame'
import { median } from '../../core/stats'
import { buildDiscriminator, defaultDiscriminatorConfig, type DiscriminatorConfig } from '../model/discriminator'
import { saveModelDir } from '../model-dir'
import { DEFAULT_AUGMENT, NO_AUGMENT, PairDataset, augmentFor, type AugmentOptions, type TrainExample } from './data'
import { DEFAULT_LOSS_WEIGHTS, composite, darkeningTarget, judgedDarkening, shadowBalanceWeights, type BatchTensors, type LossWeights } from './losses'
import { shapePriorTerms, type ShapePrior } from '../shape-prior'
import { transferWeights, loadCheckpoint, hasCheckpoint, modelWeightsNamed, saveCheckpoint, setModelWeightsChecked } from './checkpoint'
import { TrainRng } from './rng'
import { renderLossPlot, renderSheet, smooth, type Tile } from './plot'
import { GradientWorkerPool, applyGradients, averageGradients, computeGradients, type StepLosses } from './parallel'

/**
 * The GAN training loop used by `umbra train` (and reusable by fine-tuning): generator step on
 * the balanced darkening / image / attention / gradient losses plus a small adversarial term,
 * then a discriminator step. Checkpoints (atomic, verified) every few minutes and on abort;
 * `resume` continues from the last one after a crash or kill -9. The pair folder is rescanned now
 * and then so samples written while training runs join in.
 *
 * Run folder (outDir):
 *   checkpoint/        TRAIN's resumable state (checkpoint.ts)
 *   model/             the latest generator as a model folder (saveModelDir: tfjs + ONNX + manifest)
 *   best/              the generator with the best validation loss so far (same format)
 *   loss-log.jsonl     one line per step (and per validation)
 *   loss.png           loss plot;  previews/latest.png + previews/step-NNNNNN.png  sample sheets
 */
export interface TrainOptions {
  dataDir: string
  /** Use these examples instead of scanning dataDir (dataDir then only names the data in messages). */
  dataset?: TrainDataSource
  outDir: string
  /** Total step count to reach (a resumed run continues up to it). */
  steps: number
  batch: number
  lrG: number
  lrD: number
  /** On resume, use lrG/lrD from these options instead of the checkpoint's (an explicit --lr). */
  overrideLr?: boolean
  /**
   * Anneal the generator's rate from lrG (at the step this call starts from) to this rate at
   * `steps`, along a half cosine (generatorLrAt). Kept in the checkpoint, so a resume without it
   * continues the same schedule; given again on resume, a new schedule starts from that step.
   */
  lrEnd?: number
  modelConfig: ShadowModelConfig
  resume: boolean
  seed: number
  lossWeights: LossWeights
  augment: AugmentOptions
  /** Steps of plain supervised training before the discriminator joins in. */
  ganStartStep: number
  checkpointEverySeconds: number
  /** Also checkpoint every N steps (0 = time only). */
  checkpointEverySteps: number
  /** Save the model folder (tfjs + ONNX) at most this often (and at the end). */
  modelEverySeconds: number
  rescanEverySeconds: number
  /** Validation samples evaluated at each checkpoint (0 = none). */
  valSamples: number
  /** Backend name recorded in the manifest. */
  backend: string
  /** Start from these generator weights instead of fresh ones (fine-tuning); must match modelConfig. */
  initialGenerator?: tf.LayersModel
  /**
   * Transfer initialGenerator's weights layer by layer (transferWeights) instead: a new run that
   * grows a trained model (wider layers, a new output); layers it lacks keep fresh weights.
   */
  initialWeightsByName?: boolean
  modelName?: string
  baseModel?: string | null
  /** Write model/ and best/ folders through saveModelDir (off in tests that only check checkpoints). */
  saveModels: boolean
  signal?: AbortSignal
  /** Threads computing each step (1 = this thread only; N > 1 adds N-1 gradient workers, see parallel.ts). */
  workers?: number
  /**
   * Train with this silhouette prior in the loss (cast-frame models only): the darkening judged is
   * the shadow block's mixed with the projection, as the pipeline will mix it (mixShapePrior), so the
   * block learns what the projection lacks instead of drawing the shadow twice. Kept in the
   * checkpoint and written into the model's manifest: a model trained so needs that prior. Its
   * optional sceneDarkness (read from the photo at inference) is not applied in the loss.
   */
  shapePrior?: ShapePrior
  /**
   * 'shadow': train only the shadow block and its refinement; the attention block and the direction
   * output keep their weights (a shadow block retrained on a finished model). Kept in the checkpoint.
   */
  trainOnly?: 'shadow'
  /** Called once the models are built and restored, before the first step (tests, live previews). */
  onStart?: (info: { step: number; generator: tf.LayersModel; resumed: boolean }) => void
  onProgress?: (p: TrainProgress) => void
  log?: (line: string) => void
}

/**
 * Where training examples come from: PairDataset (a pair folder) by default; fine-tuning passes its
 * own checked list of user pairs with a fixed validation split.
 */
export interface TrainDataSource {
  readonly trainCount: number
  readonly valEntries: readonly unknown[]
  rescan(): Promise<void>
  batch(n: number, rng: TrainRng, aug: AugmentOptions): Promise<TrainExample[]>
  valBatch(limit: number, aug?: AugmentOptions): Promise<TrainExample[]>
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'dataDir' | 'outDir' | 'backend'> = {
  steps: 20000,
  batch: 4,
  lrG: 1e-3,
  lrD: 1e-5,
  modelConfig: DEFAULT_MODEL_CONFIG,
  resume: false,
  seed: 1,
  lossWeights: DEFAULT_LOSS_WEIGHTS,
  augment: DEFAULT_AUGMENT,
  ganStartStep: 500,
  checkpointEverySeconds: 300,
  checkpointEverySteps: 0,
  modelEverySeconds: 900,
  rescanEverySeconds: 300,
  valSamples: 32,
  saveModels: true,
}

export type { StepLosses }

export interface TrainProgress {
  step: number
  startStep: number
  totalSteps: number
  losses: StepLosses
  msPerStep: number
  trainCount: number
  event: 'step' | 'checkpoint' | 'validation'
  val?: ValidationResult
}

export interface ValidationResult {
  /** Weighted darkening L1 (the main training term) on the validation samples. */
  darkeningL1: number
  /** RMSE (0-255) of the composite inside the object-shadow mask, at model resolution. */
  localRmse: number
  /** RMSE (0-255) of the composite over the whole crop, at model resolution. */
  globalRmse: number
  count: number
  /**
   * Models with a direction output, on the unturned crops whose shadow direction is known: median
   * angle error of the belief's mode (degrees), its mean confidence (directionMode) and how many crops.
   */
  direction?: { medianErrorDeg: number; meanConfidence: number; count: number }
}

export interface TrainResult {
  step: number
  startStep: number
  resumed: boolean
  wallTimeSeconds: number
  msPerStep: number
  trainCount: number
  gflopPerImage: number
  lastLosses: StepLosses | null
  bestVal: ValidationResult | null
  aborted: boolean
}

interface RunMeta {
  modelConfig: ShadowModelConfig
  discConfig: DiscriminatorConfig
  rngState: number
  wallTimeSeconds: number
  lrG: number
  lrD: number
  /** A fixed shadow-region balance cap (--balance-cap), kept so that a resume keeps it; absent: the step schedule. */
  shadowBalanceCap?: number
  /** --attention-pos-cap, kept for the same reason; absent: the loss's default. */
  attentionPositiveCap?: number
  /** --lr-end's schedule, kept so that a resume continues it; absent: lrG throughout. */
  lrDecay?: LrDecay
  /** TrainOptions.shapePrior and trainOnly, kept so that a resume trains the same thing. */
  shapePrior?: ShapePrior
  trainOnly?: 'shadow'
  batch: number
  bestValLoss: number | null
  /** How many validation samples bestValLoss was measured on (a grown validation set restarts "best"). */
  bestValCount?: number
  trainCount: number
  modelName: string
  baseModel: string | null
  architectureVersion: string
}

const LOG_FILE = 'loss-log.jsonl'

/** A generator learning-rate schedule: lrG until fromStep, then a half cosine down to endLr at toStep. */
export interface LrDecay {
  fromStep: number
  toStep: number
  endLr: number
}

/**
 * The generator's rate for the step after `step`. Why anneal: a run held up by gradient noise
 * (small batches, the GAN term) stops improving at a fixed rate, and a falling rate removes that
 * noise at the end. For the shadow model it was measured and did not lower the darkening loss
 * (docs/model.md, tenth session): that plateau is not noise.
 */
export function generatorLrAt(step: number, lrG: number, decay: LrDecay | undefined): number {
  if (!decay || step <= decay.fromStep) return lrG
  if (step >= decay.toStep) return decay.endLr
  const t = (step - decay.fromStep) / (decay.toStep - decay.fromStep)
  return decay.endLr + (lrG - decay.endLr) * 0.5 * (1 + Math.cos(Math.PI * t))
}

/**
 * BatchTensors.prior for cast-frame examples: the model gain times the cast support, and the
 * weighted projection. Both are cast as the pipeline casts them (mixShapePrior), in the photo's
 * frame where the object stands upright, at the angle the crop was turned for, then turned with it.
 */
function priorTensors(examples: TrainExample[], s: number, prior: ShapePrior): NonNullable<BatchTensors['prior']> {
  const gain = new Float32Array(examples.length * s * s)
  const base = new Float32Array(examples.length * s * s * 3)
  examples.forEach((e, k) => {
    const cast = e.cast
    if (!cast) throw new Error('a shape prior in the loss needs cast-frame examples')
    const terms = shapePriorTerms(cast.object, s, CAST_DOWN - cast.turn, prior)
    gain.set(rotateSquare(terms.gain, s, 1, cast.turn, 'zero'), k * s * s)
    base.set(rotateSquare(terms.base, s, 3, cast.turn, 'zero'), k * s * s * 3)
  })
  return { gain: tf.tensor4d(gain, [examples.length, s, s, 1]), base: tf.tensor4d(base, [examples.length, s, s, 3]) }
}

/** Whether a layer belongs to the shadow block or its refinement (what trainOnly 'shadow' trains). */
export function isShadowBlockLayer(name: string): boolean {
  return name.startsWith('sh_') || name.startsWith('refine_')
}

/** Freezes every generator layer outside the shadow block (trainOnly 'shadow'). */
export function freezeAllButShadowBlock(generator: tf.LayersModel): void {
  for (const layer of generator.layers) if (layer.trainableWeights.length > 0 && !isShadowBlockLayer(layer.name)) layer.trainable = false
}

export function stackBatch(examples: TrainExample[], s: number, prior?: ShapePrior | null): BatchTensors {
  const b = examples.length
  const stack = (arrays: Float32Array[], ch: number) => {
    const out = new Float32Array(b * s * s * ch)
    arrays.forEach((a, i) => out.set(a, i * s * s * ch))
    return tf.tensor4d(out, [b, s, s, ch])
  }
  const cat = (key: 'input' | 'noShadow' | 'shadow' | 'attention' | 'objectShadow' | 'object', ch: number) => stack(examples.map((e) => e[key]), ch)
  const views = examples.every((e) => e.view) ? examples.map((e) => e.view as NonNullable<TrainExample['view']>) : null
  return {
    input: cat('input', 4),
    noShadow: cat('noShadow', 3),
    shadow: cat('shadow', 3),
    attention: cat('attention', 2),
    objectShadow: cat('objectShadow', 1),
    object: cat('object', 1),
    // Only when some sample lacks an occluder mask (fine-tuning pairs): otherwise the loss is unchanged.
    attentionWeight: examples.some((e) => e.attentionWeight)
      ? tf.tensor4d(examples.flatMap((e) => e.attentionWeight ?? [1, 1]), [b, 1, 1, 2])
      : undefined,
    view: views
      ? {
          input: stack(views.map((v) => v.input), 4),
          attention: stack(views.map((v) => v.attention), 2),
          direction: tf.tensor2d(views.flatMap((v) => v.direction ?? [0, 0]), [b, 2]),
          directionKnown: tf.tensor2d(views.map((v) => (v.direction ? 1 : 0)), [b, 1]),
        }
      : undefined,
    prior: prior ? priorTensors(examples, s, prior) : undefined,
  }
}

export function disposeBatch(b: BatchTensors): void {
  tf.dispose([b.input, b.noShadow, b.shadow, b.attention, b.objectShadow, b.object])
  if (b.attentionWeight) b.attentionWeight.dispose()
  if (b.view) tf.dispose(Object.values(b.view))
  if (b.prior) tf.dispose([b.prior.gain, b.prior.base])
}

/** Trains as `opts` say, holding the run folder's lock (two trainings in one folder would overwrite each other's checkpoints). */
export async function runTraining(opts: TrainOptions): Promise<TrainResult> {
  return withFolderLock(opts.outDir, 'training run', () => trainInFolder(opts))
}

async function trainInFolder(opts: TrainOptions): Promise<TrainResult> {
  const log = opts.log ?? (() => {})
  const existing = await hasCheckpoint(opts.outDir)
  if (existing && !opts.resume) {
    throw new UserError('RUN_EXISTS', `${opts.outDir} already holds a training run: pass --resume to continue it, or choose another --out`)
  }
  const ckpt = opts.resume ? await loadCheckpoint<RunMeta>(opts.outDir) : null
  if (opts.resume && !ckpt) log(`no checkpoint in ${opts.outDir}: starting a new run`)

  const modelConfig = ckpt ? ckpt.meta.modelConfig : opts.modelConfig
  // A discriminator that has never trained (the run is still in its supervised warm-up) is rebuilt
  // from the current defaults, so a cheaper design reaches runs started before it.
  const discFresh = !ckpt || (ckpt.step < opts.ganStartStep && JSON.stringify(ckpt.meta.discConfig) !== JSON.stringify(defaultDiscriminatorConfig(modelConfig.size)))
  const discConfig = ckpt && !discFresh ? ckpt.meta.discConfig : defaultDiscriminatorConfig(modelConfig.size)
  const s = modelConfig.size
  const generator = buildShadowModel(modelConfig)
  const discriminator = buildDiscriminator(discConfig)
  if (opts.initialGenerator && !ckpt) {
    if (opts.initialWeightsByName) {
      const { fresh, widened } = transferWeights(generator, opts.initialGenerator)
      log(`initial weights copied layer by layer${widened.length > 0 ? `; widened: ${widened.join(', ')}` : ''}${fresh.length > 0 ? `; new layers: ${fresh.join(', ')}` : ''}`)
    } else {
      setModelWeightsChecked(generator, opts.initialGenerator.getWeights(), 'initial generator')
    }
  }
  const lrG = ckpt && !opts.overrideLr ? ckpt.meta.lrG : opts.lrG
  const lrD = ckpt && !opts.overrideLr ? ckpt.meta.lrD : opts.lrD
  if (ckpt && opts.overrideLr && (lrG !== ckpt.meta.lrG || lrD !== ckpt.meta.lrD)) log(`learning rates changed on resume: generator ${ckpt.meta.lrG} -> ${lrG}, discriminator ${ckpt.meta.lrD} -> ${lrD}`)
  const balanceCap = opts.lossWeights.shadowBalanceCap ?? ckpt?.meta.shadowBalanceCap
  if (ckpt && opts.lossWeights.shadowBalanceCap === undefined && balanceCap !== undefined) log(`shadow-region balance cap fixed at ${balanceCap}, as the run was started`)
  const shapePrior = opts.shapePrior ?? ckpt?.meta.shapePrior
  const trainOnly = opts.trainOnly ?? ckpt?.meta.trainOnly
  if (shapePrior && modelConfig.castFrame !== 'down') throw new UserError('BAD_ARGS', 'training with a shape prior needs a cast-frame model (the prior is cast along the shadow)')
  if (ckpt && !opts.shapePrior && shapePrior) log('shape prior in the loss, as the run was started')
  if (trainOnly === 'shadow') {
    freezeAllButShadowBlock(generator)
    log('training the shadow block only: the attention block and the direction output keep their weights')
  }
  const attentionPositiveCap = opts.lossWeights.attentionPositiveCap ?? ckpt?.meta.attentionPositiveCap
  if (ckpt && opts.lossWeights.attentionPositiveCap === undefined && attentionPositiveCap !== undefined) log(`attention positive-class cap ${attentionPositiveCap}, as the run was started`)
  // beta1 0.9 for the generator (its loss is mostly supervised), 0.5 for the discriminator as usual in GANs.
  const optG = tf.train.adam(lrG, 0.9, 0.999)
  const optD = tf.train.adam(lrD, 0.5, 0.999)
  const gVars = generator.trainableWeights.map((w) => w.read() as tf.Variable)
  const dVars = discriminator.trainableWeights.map((w) => w.read() as tf.Variable)

  let step = 0
  let wallBefore = 0
  let bestValLoss: number | null = null
  let bestValCount = 0
  let rng = new TrainRng(opts.seed)
  if (ckpt) {
    try {
      setModelWeightsChecked(generator, ckpt.groups.generator, 'generator')
      const named = (ts: tf.Tensor[], prefix: string) => ts.map((t, i) => ({ name: `${prefix}${i}`, tensor: t }))
      if (ckpt.groups.optG.length > 0) await optG.setWeights(named(ckpt.groups.optG, 'g'))
      if (discFresh) {
        log(`discriminator rebuilt with the current design (the checkpoint's one had not trained yet)`)
      } else {
        setModelWeightsChecked(discriminator, ckpt.groups.discriminator, 'discriminator')
        if (ckpt.groups.optD.length > 0) await optD.setWeights(named(ckpt.groups.optD, 'd'))
      }
    } finally {
      for (const ts of Object.values(ckpt.groups)) tf.dispose(ts)
    }
    step = ckpt.step
    wallBefore = ckpt.meta.wallTimeSeconds
    bestValLoss = ckpt.meta.bestValLoss
    bestValCount = ckpt.meta.bestValCount ?? 0
    rng = new TrainRng(ckpt.meta.rngState)
    await truncateLog(join(opts.outDir, LOG_FILE), step)
    log(`resumed ${opts.outDir} at step ${step} (checkpoint of ${ckpt.savedAt})`)
  }
  const startStep = step
  const lrDecay: LrDecay | undefined = opts.lrEnd !== undefined ? { fromStep: startStep, toStep: opts.steps, endLr: opts.lrEnd } : ckpt?.meta.lrDecay
  if (lrDecay) log(`generator learning rate: ${lrG} until step ${lrDecay.fromStep}, then a cosine down to ${lrDecay.endLr} at step ${lrDecay.toStep}${opts.lrEnd === undefined ? ' (as the run was started)' : ''}`)
  const modelName = ckpt?.meta.modelName ?? opts.modelName ?? 'umbra-shadow'
  const baseModel = ckpt?.meta.baseModel ?? opts.baseModel ?? null

  const dataset: TrainDataSource = opts.dataset ?? new PairDataset(opts.dataDir, s)
  await dataset.rescan()
  if (dataset.trainCount === 0) {
    throw new UserError('NO_PAIRS', `no complete training pairs in ${opts.dataDir} (each sample is a folder with noshadow.png, shadow.png, object.png, object-shadow.png, occluders.png, occluder-shadows.png)`)
  }
  // Only now that the data is known to be usable: a bad --data leaves no empty run folder behind.
  await fs.mkdir(opts.outDir, { recursive: true })
  log(`data: ${dataset.trainCount} training pairs, ${dataset.valEntries.length} validation pairs (by id hash) in ${opts.dataDir}`)
  const gflop = modelGflops(generator)
  log(`generator: ${generator.countParams()} parameters, ${gflop.toFixed(3)} GFLOP per ${s}x${s} image; batch ${opts.batch}`)

  // A cast-frame model (cast-frame.ts) trains and validates on examples turned to its frame.
  const trainAugment = augmentFor(opts.augment, modelConfig)
  const valAugment = augmentFor(NO_AUGMENT, modelConfig)
  if (trainAugment.castFrame) log('cast frame: every example is turned so that its shadow falls down the model input')
  let val = opts.valSamples > 0 && dataset.valEntries.length > 0 ? await dataset.valBatch(opts.valSamples, valAugment) : []
  const previewSource = val.length > 0 ? val.slice(0, 4) : await dataset.batch(Math.min(4, opts.batch), new TrainRng(7), augmentFor({ ...DEFAULT_AUGMENT, noise: 0 }, modelConfig))

  opts.onStart?.({ step, generator, resumed: ckpt !== null })
  const started = Date.now()
  let lastCheckpoint = Date.now()
  let lastModelSave = ckpt ? Date.now() : 0
  let lastRescan = Date.now()
  let lastLosses: StepLosses | null = null
  let bestVal: ValidationResult | null = null
  let stepMsAvg = 0
  let stepsSinceCkpt = 0
  let next = dataset.batch(opts.batch, rng, trainAugment)
  const logLines: string[] = []

  const wallTime = () => wallBefore + (Date.now() - started) / 1000
  const meta = (): RunMeta => ({
    modelConfig,
    discConfig,
    rngState: rng.state,
    wallTimeSeconds: wallTime(),
    lrG,
    lrD,
    ...(balanceCap !== undefined ? { shadowBalanceCap: balanceCap } : {}),
    ...(attentionPositiveCap !== undefined ? { attentionPositiveCap } : {}),
    ...(lrDecay ? { lrDecay } : {}),
    ...(shapePrior ? { shapePrior } : {}),
    ...(trainOnly ? { trainOnly } : {}),
    batch: opts.batch,
    bestValLoss,
    bestValCount,
    trainCount: dataset.trainCount,
    modelName,
    baseModel,
    architectureVersion: ARCHITECTURE_VERSION,
  })

  const flushLog = async () => {
    if (logLines.length === 0) return
    await fs.appendFile(join(opts.outDir, LOG_FILE), logLines.join(''))
    logLines.length = 0
  }

  const manifestFor = (metrics: Record<string, unknown>) => ({
    name: modelName,
    baseModel,
    inputSize: s,
    architectureVersion: ARCHITECTURE_VERSION,
    architecture: { ...modelConfig },
    training: { dataCount: dataset.trainCount, steps: step, wallTimeSeconds: Math.round(wallTime()), backend: opts.backend, batch: opts.batch, lrG, lrD, ...(attentionPositiveCap !== undefined ? { attentionPositiveCap } : {}), ...(trainOnly ? { trainOnly } : {}), ...(shapePrior ? { shapePriorInLoss: true } : {}) },
    metrics,
    // The prior the shadow block was trained to complement: the pipeline must mix the same one.
    ...(shapePrior ? { shapePrior } : {}),
  })

  const checkpoint = async (reason: string) => {
    await flushLog()
    const optGWeights = await optG.getWeights()
    const optDWeights = await optD.getWeights()
    let valResult: ValidationResult | null = null
    if (val.length > 0) {
      valResult = validate(generator, val, s, shapePrior)
      logLines.push(JSON.stringify({ step, val: valResult, t: Math.round(wallTime()) }) + '\n')
      if (bestValLoss === null || valResult.count !== bestValCount || valResult.darkeningL1 < bestValLoss) {
        bestValLoss = valResult.darkeningL1
        bestValCount = valResult.count
        bestVal = valResult
        if (opts.saveModels && step > 0) {
          await saveModelDir(join(opts.outDir, 'best'), generator, manifestFor({ validation: { ...valResult, step } }))
        }
      }
      opts.onProgress?.({ step, startStep, totalSteps: opts.steps, losses: lastLosses ?? zeroLosses(), msPerStep: stepMsAvg, trainCount: dataset.trainCount, event: 'validation', val: valResult })
    }
    await saveCheckpoint<RunMeta>(opts.outDir, {
      step,
      meta: meta(),
      groups: {
        generator: modelWeightsNamed(generator),
        discriminator: modelWeightsNamed(discriminator),
        optG: optGWeights,
        optD: optDWeights,
      },
    })
    await flushLog()
    await writeArtifacts(opts.outDir, generator, previewSource, s, step, shapePrior)
    if (opts.saveModels && (Date.now() - lastModelSave > opts.modelEverySeconds * 1000 || reason === 'end' || reason === 'abort')) {
      await saveModelDir(join(opts.outDir, 'model'), generator, manifestFor(valResult ? { validation: { ...valResult, step } } : {}))
      lastModelSave = Date.now()
    }
    lastCheckpoint = Date.now()
    stepsSinceCkpt = 0
    log(`checkpoint at step ${step} (${reason})${valResult ? `: val darkening L1 ${valResult.darkeningL1.toFixed(4)}, local RMSE ${valResult.localRmse.toFixed(2)}, global RMSE ${valResult.globalRmse.toFixed(2)}` : ''}`)
    opts.onProgress?.({ step, startStep, totalSteps: opts.steps, losses: lastLosses ?? zeroLosses(), msPerStep: stepMsAvg, trainCount: dataset.trainCount, event: 'checkpoint' })
  }

  let aborted = false
  let pool: GradientWorkerPool | null = null
  try {
    if ((opts.workers ?? 1) > 1) {
      pool = await GradientWorkerPool.start((opts.workers ?? 1) - 1, {
        modelConfig,
        discConfig,
        backend: opts.backend,
        shapePrior,
        trainOnly,
        frozenWeights: generator.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array),
      })
      log(`data-parallel: ${pool.size + 1} threads per step`)
    }
    while (step < opts.steps) {
      if (opts.signal?.aborted) {
        aborted = true
        break
      }
      const examples = await next
      // A frozen attention block learns nothing from the unturned views: leave their passes out.
      if (trainOnly === 'shadow') for (const e of examples) delete e.view
      if (Date.now() - lastRescan > opts.rescanEverySeconds * 1000) {
        const before = dataset.trainCount
        await dataset.rescan()
        lastRescan = Date.now()
        if (dataset.trainCount !== before) log(`data: now ${dataset.trainCount} training pairs`)
        if (val.length < opts.valSamples && dataset.valEntries.length > val.length) val = await dataset.valBatch(opts.valSamples, valAugment)
      }
      next = dataset.batch(opts.batch, rng, trainAugment)
      next.catch(() => {}) // surfaced when awaited
      const t0 = Date.now()
      // tfjs's Adam reads its public learningRate at every update.
      const lrNow = generatorLrAt(step, lrG, lrDecay)
      ;(optG as unknown as { learningRate: number }).learningRate = lrNow
      const weights = { ...opts.lossWeights, shadowBalanceCap: balanceCap ?? shadowBalanceCapAt(step), attentionPositiveCap }
      const losses = pool
        ? await parallelStep(pool, generator, discriminator, optG, optD, gVars, dVars, examples, s, weights, step >= opts.ganStartStep, shapePrior)
        : trainStep(generator, discriminator, optG, optD, gVars, dVars, stackBatch(examples, s, shapePrior), weights, step >= opts.ganStartStep)
      const ms = Date.now() - t0
      if (!Number.isFinite(losses.total)) {
        throw new Error(`training diverged at step ${step + 1} (loss ${losses.total}); the last checkpoint is intact: lower --lr and --resume`)
      }
      step++
      stepsSinceCkpt++
      stepMsAvg = stepMsAvg === 0 ? ms : stepMsAvg * 0.95 + ms * 0.05
      lastLosses = losses
      logLines.push(JSON.stringify({ step, ...roundLosses(losses), ...(lrDecay ? { lr: Number(lrNow.toPrecision(4)) } : {}), ms, t: Math.round(wallTime()) }) + '\n')
      opts.onProgress?.({ step, startStep, totalSteps: opts.steps, losses, msPerStep: stepMsAvg, trainCount: dataset.trainCount, event: 'step' })
      if (logLines.length >= 20) await flushLog()
      const dueByTime = Date.now() - lastCheckpoint > opts.checkpointEverySeconds * 1000
      const dueBySteps = opts.checkpointEverySteps > 0 && stepsSinceCkpt >= opts.checkpointEverySteps
      if ((dueByTime || dueBySteps) && step < opts.steps) await checkpoint(dueByTime ? 'time' : 'steps')
    }
    await next.catch(() => null)
    if (step > startStep || !(await hasCheckpoint(opts.outDir))) await checkpoint(aborted ? 'abort' : 'end')
  } finally {
    if (pool) await pool.stop()
    generator.dispose()
    discriminator.dispose()
    optG.dispose()
    optD.dispose()
  }
  const secs = (Date.now() - started) / 1000
  return {
    step,
    startStep,
    resumed: ckpt !== null,
    wallTimeSeconds: wallBefore + secs,
    msPerStep: stepMsAvg,
    trainCount: dataset.trainCount,
    gflopPerImage: gflop,
    lastLosses,
    bestVal,
    aborted,
  }
}

/**
 * The shadow-region balance cap by step: 30 for the first 3000 steps (leave the "no shadow"
 * minimum), then down linearly to 8 at step 10000 (more conservative where unsure). A function of
 * the step alone, so a resumed run continues the same schedule.
 */
export function shadowBalanceCapAt(step: number): number {
  if (step < 3000) return 30
  return Math.max(8, 30 - ((step - 3000) * 22) / 7000)
}

function zeroLosses(): StepLosses {
  return { total: 0, darkening: 0, image: 0, attention: 0, gradient: 0, adversarial: 0, direction: 0, discriminator: 0 }
}

function roundLosses(l: StepLosses): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(l)) out[k] = Number(v.toPrecision(5))
  return out
}

/** One generator step and (once the GAN is on) one discriminator step. Disposes the batch. */
export function trainStep(
  generator: tf.LayersModel,
  discriminator: tf.LayersModel,
  optG: tf.Optimizer,
  optD: tf.Optimizer,
  gVars: tf.Variable[],
  dVars: tf.Variable[],
  batch: BatchTensors,
  weights: LossWeights,
  gan: boolean,
): StepLosses {
  try {
    const r = computeGradients(generator, discriminator, gVars, dVars, batch, weights, gan)
    applyGradients(optG, gVars, r.g)
    if (r.d) applyGradients(optD, dVars, r.d)
    return r.losses
  } finally {
    disposeBatch(batch)
  }
}

/**
 * One data-parallel step: the batch is split between this thread and the pool's workers, each
 * computes the gradients of its slice with the current weights, and the sample-weighted average is
 * applied once by this thread's optimizers (so the checkpointed state is the same as single-thread).
 */
export async function parallelStep(
  pool: GradientWorkerPool,
  generator: tf.LayersModel,
  discriminator: tf.LayersModel,
  optG: tf.Optimizer,
  optD: tf.Optimizer,
  gVars: tf.Variable[],
  dVars: tf.Variable[],
  examples: TrainExample[],
  s: number,
  weights: LossWeights,
  gan: boolean,
  shapePrior?: ShapePrior,
): Promise<StepLosses> {
  const k = Math.min(pool.size + 1, examples.length)
  const slices: TrainExample[][] = Array.from({ length: k }, (_, i) => examples.slice(Math.floor((i * examples.length) / k), Math.floor(((i + 1) * examples.length) / k)))
  const gW = gVars.map((v) => v.dataSync() as Float32Array)
  const dW = dVars.map((v) => v.dataSync() as Float32Array)
  const remote = k > 1 ? pool.run(slices.slice(1), gW, dW, weights, gan) : Promise.resolve([])
  const batch = stackBatch(slices[0], s, shapePrior)
  let local
  try {
    local = computeGradients(generator, discriminator, gVars, dVars, batch, weights, gan)
  } finally {
    disposeBatch(batch)
  }
  const results = [local, ...(await remote)]
  applyGradients(optG, gVars, averageGradients(results.map((r) => ({ grads: r.g, count: r.count }))))
  if (gan && results.every((r) => r.d)) applyGradients(optD, dVars, averageGradients(results.map((r) => ({ grads: r.d as Float32Array[], count: r.count }))))
  const total = results.reduce((n, r) => n + r.count, 0)
  const avg = (key: keyof StepLosses) => results.reduce((acc, r) => acc + r.losses[key] * r.count, 0) / total
  return { total: avg('total'), darkening: avg('darkening'), image: avg('image'), attention: avg('attention'), gradient: avg('gradient'), adversarial: avg('adversarial'), direction: avg('direction'), discriminator: avg('discriminator') }
}

/** Validation at model resolution: the darkening loss and RMSEs of the composite (0-255). */
export function validate(generator: tf.LayersModel, examples: TrainExample[], s: number, shapePrior?: ShapePrior | null): ValidationResult {
  let l1 = 0, localSq = 0, localN = 0, globalSq = 0, globalN = 0
  const directionErrors: number[] = []
  let confidenceSum = 0
  const withDirection = hasDirectionOutput(generator)
  for (let i = 0; i < examples.length; i += 8) {
    const chunk = examples.slice(i, i + 8)
    const batch = stackBatch(chunk, s, shapePrior)
    const r = tf.tidy(() => {
      const darkening = judgedDarkening((generator.predict(batch.input) as tf.Tensor4D[])[1], batch)
      const target = darkeningTarget(batch.noShadow, batch.shadow)
      const w = shadowBalanceWeights(batch.objectShadow, batch.object, batch.noShadow)
      const l1Sum = tf.div(tf.sum(tf.mul(tf.abs(tf.sub(darkening, target)), w)), tf.mul(tf.maximum(tf.sum(w), 1e-6), 3))
      // The pipeline keeps the object's own pixels.
      const comp = tf.add(tf.mul(composite(batch.noShadow, darkening), tf.sub(1, batch.object)), tf.mul(batch.noShadow, batch.object))
      const sq = tf.mul(tf.squaredDifference(comp, batch.shadow), 255 * 255)
      const inMask = tf.cast(tf.greater(batch.objectShadow, 0.5), 'float32')
      return [l1Sum, tf.sum(tf.mul(sq, inMask)), tf.mul(tf.sum(inMask), 3), tf.sum(sq), tf.scalar(sq.size)].map((t) => t.dataSync()[0])
    })
    if (withDirection && batch.view) {
      const { logits, bins } = tf.tidy(() => {
        const out = (attentionView(generator).predict((batch.view as NonNullable<BatchTensors['view']>).input) as tf.Tensor[])[1]
        return { logits: out.dataSync() as Float32Array, bins: out.shape[3] as number }
      })
      chunk.forEach((e, k) => {
        const truth = e.view?.direction
        if (!truth) return
        const mode = directionMode(directionPosterior(logits, bins, chunk.length, k))
        directionErrors.push((angleDifference(mode.angle, Math.atan2(truth[1], truth[0])) * 180) / Math.PI)
        confidenceSum += mode.confidence
      })
    }
    disposeBatch(batch)
    l1 += r[0] * chunk.length
    localSq += r[1]
    localN += r[2]
    globalSq += r[3]
    globalN += r[4]
  }
  return {
    darkeningL1: l1 / Math.max(1, examples.length),
    localRmse: Math.sqrt(localSq / Math.max(1, localN)),
    globalRmse: Math.sqrt(globalSq / Math.max(1, globalN)),
    count: examples.length,
    ...(directionErrors.length > 0
      ? { direction: { medianErrorDeg: median(directionErrors), meanConfidence: confidenceSum / directionErrors.length, count: directionErrors.length } }
      : {}),
  }
}

async function truncateLog(path: string, step: number): Promise<void> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch {
    return
  }
  const kept = text.split('\n').filter((line) => {
    if (!line.trim()) return false
    try {
      return (JSON.parse(line) as { step: number }).step <= step
    } catch {
      return false // a line cut by the kill
    }
  })
  await writeFileAtomic(path, kept.map((l) => l + '\n').join(''))
}

/** Loss plot and preview sheet (both rewritten at each checkpoint). */
async function writeArtifacts(outDir: string, generator: tf.LayersModel, examples: TrainExample[], s: number, step: number, shapePrior?: ShapePrior): Promise<void> {
  let text = ''
  try {
    text = await fs.readFile(join(outDir, LOG_FILE), 'utf8')
  } catch {
    // no log yet
  }
  const rows = text.split('\n').filter(Boolean).map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>
    } catch {
      return null
    }
  })
  const steps = rows.filter((r): r is Record<string, number> => r !== null && typeof r.total === 'number')
  const vals = rows.filter((r): r is { step: number; val: ValidationResult } => r !== null && typeof r.val === 'object')
  const win = Math.max(1, Math.round(steps.length / 200))
  const series = [
    { name: 'total', color: [30, 90, 200] as [number, number, number], points: smooth(steps.map((r) => ({ x: r.step, y: r.total })), win) },
    { name: 'darkening L1', color: [220, 120, 20] as [number, number, number], points: smooth(steps.map((r) => ({ x: r.step, y: r.darkening })), win) },
    { name: 'attention BCE', color: [40, 160, 60] as [number, number, number], points: smooth(steps.map((r) => ({ x: r.step, y: r.attention })), win) },
    { name: 'val darkening L1', color: [200, 30, 30] as [number, number, number], points: vals.map((r) => ({ x: r.step, y: r.val.darkeningL1 })) },
  ]
  await writeFileAtomic(join(outDir, 'loss.png'), await renderLossPlot(series, `step ${step}`))

  if (examples.length === 0) return
  const batch = stackBatch(examples, s, shapePrior)
  const [att, dark, comp] = tf.tidy(() => {
    const [a, raw] = generator.predict(batch.input) as tf.Tensor4D[]
    const d = judgedDarkening(raw, batch)
    const c = tf.add(tf.mul(composite(batch.noShadow, d), tf.sub(1, batch.object)), tf.mul(batch.noShadow, batch.object))
    return [a, d, c]
  })
  const attData = att.dataSync() as Float32Array
  const darkData = dark.dataSync() as Float32Array
  const compData = comp.dataSync() as Float32Array
  const target = tf.tidy(() => darkeningTarget(batch.noShadow, batch.shadow).dataSync() as Float32Array)
  tf.dispose([att, dark, comp])
  disposeBatch(batch)
  const n = s * s
  const grey = (src: Float32Array, offset: number, stride: number, reduce: 'max' | 'one') => {
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      out[i] = reduce === 'max' ? Math.max(src[offset + i * stride], src[offset + i * stride + 1], src[offset + i * stride + 2]) : src[offset + i * stride]
    }
    return out
  }
  const rowsOut: Tile[][] = examples.map((e, k) => [
    { data: e.noShadow, channels: 3 },
    { data: compData.subarray(k * n * 3, (k + 1) * n * 3), channels: 3 },
    { data: e.shadow, channels: 3 },
    { data: grey(darkData, k * n * 3, 3, 'max'), channels: 1 },
    { data: grey(target, k * n * 3, 3, 'max'), channels: 1 },
    { data: grey(attData, k * n * 2 + 1, 2, 'one'), channels: 1 },
    { data: grey(attData, k * n * 2, 2, 'one'), channels: 1 },
  ])
  const png = await renderSheet(rowsOut, s, ['input', 'model', 'target', 'pred d', 'target d', 'occ. shadow', 'occluders'])
  await writeFileAtomic(join(outDir, 'previews', 'latest.png'), png)
  await writeFileAtomic(join(outDir, 'previews', `step-${String(step).padStart(6, '0')}.png`), png)
}
