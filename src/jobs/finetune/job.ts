/**
 * The fine-tune job: the user's checked pairs, a fixed validation split, TRAIN's GAN training loop
 * started from a trained model (the active one or --from), early stopping on validation, and the
 * result saved as a named model folder with its metadata (base model, pairs, steps, validation
 * before and after).
 *
 * Run folder (`runDir`, default `<out>.run`): TRAIN's run layout (checkpoint/, best/, model/,
 * loss-log.jsonl, loss.png, previews/latest.png) plus finetune.json (what this run is: pairs,
 * split, base model, validation before). Pause = stop after an atomic checkpoint (resume later,
 * also after a restart, with `resume: true`); cancel = stop and delete the run folder.
 */
import { promises as fs } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { UserError } from '../../core/errors'
import { writeFileAtomic } from '../../core/atomic'
import { initTfBackend, type TfBackendName } from '../../engine/backend'
import { ARCHITECTURE_VERSION, type ShadowModelConfig } from '../../engine/model/architecture'
import { loadTfjsModel, readModelManifest, saveModelDir, type ModelManifest } from '../../engine/model-dir'
import { DEFAULT_AUGMENT, NO_AUGMENT, augmentFor, toFloat, type AugmentOptions } from '../../engine/train/data'
import { hasCheckpoint } from '../../engine/train/checkpoint'
import { DEFAULT_TRAIN_OPTIONS, runTraining, validate, type StepLosses, type ValidationResult } from '../../engine/train/loop'
import { FinetuneDataset, splitPairs } from './dataset'
import { castAngleOf, fitLightPrior } from '../../engine/cast-frame'
import { checkPairFolder, type CheckedPair } from './pairs'
import { defaultRunDir, readRunState, summarizeReport, FINETUNE_STATE_FILE, type PairReportSummary } from './run-state'

export { defaultRunDir, readRunState, summarizeReport, FINETUNE_STATE_FILE, type PairReportSummary } from './run-state'

export interface FinetuneOptions {
  pairsDir: string
  /** Final model folder (written atomically at the end). */
  outDir: string
  /** Model to start from (a model folder with tfjs weights). */
  fromModelDir: string
  /** Run folder for checkpoints and previews; default `<outDir>.run`. */
  runDir?: string
  /** Model name in the manifest; default the out folder's name. */
  name?: string
  /** Total steps to reach (a resumed run continues up to it). */
  steps: number
  batch: number
  lr: number
  lrD: number
  /** Continue the run in runDir (after a pause, a crash or a restart). */
  resume: boolean
  /** Share of the pairs held out for validation (by id hash). */
  valFraction: number
  /** Validate (and checkpoint) every N steps. */
  validateEverySteps: number
  /** Stop when this many validations in a row did not improve on the best one. */
  patience: number
  /** Steps of supervised training before the (fresh) discriminator joins. */
  ganStartStep: number
  augment: AugmentOptions
  checkpointEverySeconds: number
  backend?: TfBackendName
  seed: number
  /** Stop (and save the best model) once the job has run this long, checks and baseline included; 0 = no limit. */
  maxSeconds: number
  /** Abort: reason 'cancel' deletes the run folder; anything else pauses (the checkpoint stays). */
  signal?: AbortSignal
  onEvent?: (e: FinetuneEvent) => void
}

export const DEFAULT_FINETUNE_OPTIONS = {
  steps: 600,
  batch: 4,
  lr: 1e-4,
  lrD: 1e-5,
  valFraction: 0.2,
  validateEverySteps: 50,
  patience: 4,
  ganStartStep: 50,
  augment: DEFAULT_AUGMENT,
  checkpointEverySeconds: 120,
  seed: 1,
  maxSeconds: 0,
  resume: false,
} satisfies Partial<FinetuneOptions>

export type FinetuneEvent =
  | { type: 'log'; message: string }
  | { type: 'checked'; report: PairReportSummary }
  | { type: 'started'; step: number; totalSteps: number; resumed: boolean; backend: string; trainCount: number; valCount: number; before: ValidationResult | null }
  | { type: 'step'; step: number; totalSteps: number; losses: StepLosses; msPerStep: number; etaSeconds: number }
  | { type: 'validation'; step: number; val: ValidationResult; best: boolean }
  | { type: 'checkpoint'; step: number; previewPath: string; lossPlotPath: string }

export interface FinetuneResult {
  status: 'finished' | 'stopped-early' | 'time-limit' | 'paused' | 'cancelled'
  outDir: string | null
  runDir: string
  manifest: ModelManifest | null
  baseModel: string
  before: ValidationResult | null
  after: ValidationResult | null
  /** Step of the saved model (the best validation) and the last step trained. */
  savedStep: number
  lastStep: number
  stepsThisSession: number
  stepsPerSecond: number
  wallTimeSeconds: number
  backend: string
  trainCount: number
  valCount: number
  warnings: string[]
}

/** The base model's generator configuration, checked against this build's architecture. */
function modelConfigOf(manifest: ModelManifest, dir: string): ShadowModelConfig {
  if (manifest.architectureVersion !== ARCHITECTURE_VERSION) {
    throw new UserError('MODEL_MISMATCH', `${dir} has architecture ${manifest.architectureVersion}, but this build fine-tunes ${ARCHITECTURE_VERSION}`)
  }
  const cfg = manifest.architecture as unknown as ShadowModelConfig
  if (cfg.size !== manifest.inputSize || !Array.isArray(cfg.attentionWidths) || !Array.isArray(cfg.shadowWidths)) {
    throw new UserError('MODEL_MISMATCH', `${dir}: the manifest's architecture does not describe a generator of size ${manifest.inputSize}`)
  }
  return cfg
}

/** Validation entries from the log (for early stopping across a resume). */
async function loggedValidations(runDir: string): Promise<{ step: number; val: ValidationResult }[]> {
  let text = ''
  try {
    text = await fs.readFile(join(runDir, 'loss-log.jsonl'), 'utf8')
  } catch {
    return []
  }
  const out: { step: number; val: ValidationResult }[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      const row = JSON.parse(line) as { step?: number; val?: ValidationResult }
      if (typeof row.step === 'number' && row.val && typeof row.val.darkeningL1 === 'number') out.push({ step: row.step, val: row.val })
    } catch {
      // a line cut by a kill
    }
  }
  return out
}

export async function runFinetune(input: Partial<FinetuneOptions> & Pick<FinetuneOptions, 'pairsDir' | 'outDir' | 'fromModelDir'>): Promise<FinetuneResult> {
  const jobStarted = Date.now()
  // Options left undefined (e.g. a CLI flag not given) keep their defaults.
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as typeof input
  const opts: FinetuneOptions = { ...DEFAULT_FINETUNE_OPTIONS, ...given }
  const emit = opts.onEvent ?? (() => {})
  const log = (message: string) => emit({ type: 'log', message })
  const outDir = resolve(opts.outDir)
  const runDir = resolve(opts.runDir ?? defaultRunDir(outDir))
  const warnings: string[] = []

  let state = opts.resume ? await readRunState(runDir) : null
  if (!opts.resume && ((await readRunState(runDir)) || (await hasCheckpoint(runDir)))) {
    throw new UserError('RUN_EXISTS', `${runDir} already holds a fine-tune run: resume it (--resume), or remove it / choose another --out`)
  }
  if (opts.resume && !state) throw new UserError('NO_RUN', `there is no fine-tune run to resume in ${runDir}`)
  const pairsDir = state ? state.pairsDir : resolve(opts.pairsDir)
  const fromModelDir = state ? state.fromModelDir : resolve(opts.fromModelDir)

  const backend = await initTfBackend(opts.backend)
  log(`backend ${backend.backend}: ${backend.detail}`)
  const baseManifest = await readModelManifest(fromModelDir)
  const modelConfig = modelConfigOf(baseManifest, fromModelDir)
  const S = modelConfig.size
  const workSize = Math.round(S * 1.25)

  const report = await checkPairFolder(pairsDir, workSize)
  let train = report.accepted
  let val: typeof train = []
  if (state) {
    const byId = new Map(report.accepted.map((p) => [p.id, p]))
    const pick = (ids: string[], what: string) => {
      const found = ids.map((id) => byId.get(id)).filter((p): p is NonNullable<typeof p> => p !== undefined)
      if (found.length < ids.length) {
        const w = `${ids.length - found.length} ${what} pair(s) of this run are gone or no longer pass the checks; continuing without them`
        warnings.push(w)
        log(w)
      }
      return found
    }
    train = pick(state.trainIds, 'training')
    val = pick(state.valIds, 'validation')
  } else {
    ;({ train, val } = splitPairs(report.accepted, opts.valFraction))
  }
  emit({ type: 'checked', report: summarizeReport(report, { train: new Set(train.map((p) => p.id)), val: new Set(val.map((p) => p.id)) }) })
  if (train.length === 0) {
    const why = report.rejected.length ? `; ${report.rejected.length} rejected (first: ${report.rejected[0].id}: ${report.rejected[0].reasons.join('; ')})` : ''
    throw new UserError('NO_PAIRS', `no usable pairs to fine-tune on in ${pairsDir}${why}`)
  }
  if (val.length === 0) {
    const w = `only ${report.accepted.length} pair(s): no validation split, so no early stopping and no before/after numbers`
    warnings.push(w)
    log(w)
  }

  const { model: base, manifest: loadedManifest } = await loadTfjsModel(fromModelDir)
  // A base whose shadow block was trained to complement its silhouette prior (umbra train
  // --shape-prior-from) is fine-tuned the same way: judged without it, it would learn to draw the
  // whole shadow again, and the pipeline would then add the projection to that.
  const priorInLoss = baseManifest.training?.shapePriorInLoss === true && baseManifest.shapePrior ? baseManifest.shapePrior : undefined
  const dataset = new FinetuneDataset(train, val, S)
  const valExamples = await dataset.valBatch(64, augmentFor(NO_AUGMENT, modelConfig))
  let before: ValidationResult | null
  if (state) {
    before = state.before
  } else {
    before = valExamples.length ? validate(base, valExamples, S, priorInLoss) : null
    state = {
      format: 'umbra-finetune-run',
      version: 1,
      pairsDir,
      fromModelDir,
      baseModel: loadedManifest.name,
      modelName: opts.name ?? basename(outDir),
      outDir,
      batch: opts.batch,
      steps: opts.steps,
      lr: opts.lr,
      trainIds: train.map((p) => p.id),
      valIds: val.map((p) => p.id),
      before,
      rejected: report.rejected,
      derivedObjectShadow: report.derivedObjectShadow,
      unknownOccluders: report.unknownOccluders,
      createdAt: new Date().toISOString(),
    }
    await fs.mkdir(runDir, { recursive: true })
    await writeFileAtomic(join(runDir, FINETUNE_STATE_FILE), JSON.stringify(state, null, 1) + '\n')
  }
  const runState = state
  // A resume without a new step count continues up to the one the run was started with.
  const totalSteps = opts.resume && input.steps === undefined && state.steps ? state.steps : opts.steps
  if (opts.resume && totalSteps !== state.steps) {
    state = { ...state, steps: totalSteps }
    await writeFileAtomic(join(runDir, FINETUNE_STATE_FILE), JSON.stringify(state, null, 1) + '\n')
  }

  // Early stopping: the loop validates at every checkpoint (every validateEverySteps steps).
  const history = await loggedValidations(runDir)
  let bestLoss = before?.darkeningL1 ?? Infinity
  let sinceBest = 0
  for (const h of history) {
    if (h.val.darkeningL1 < bestLoss) {
      bestLoss = h.val.darkeningL1
      sinceBest = 0
    } else sinceBest++
  }
  const stopper = new AbortController()
  let stoppedEarly = false
  let timeLimited = false
  const onAbort = () => stopper.abort(opts.signal?.reason)
  if (opts.signal?.aborted) onAbort()
  opts.signal?.addEventListener('abort', onAbort, { once: true })

  let started = Date.now()
  let startStep = 0
  let result
  try {
    result = await runTraining({
      ...DEFAULT_TRAIN_OPTIONS,
      // The base model's attention calibration is kept: the pipeline reads its maps by it.
      lossWeights: { ...DEFAULT_TRAIN_OPTIONS.lossWeights, attentionPositiveCap: baseManifest.training?.attentionPositiveCap },
      dataDir: pairsDir,
      dataset,
      outDir: runDir,
      steps: totalSteps,
      batch: runState.batch,
      lrG: runState.lr,
      lrD: opts.lrD,
      modelConfig,
      resume: opts.resume,
      seed: opts.seed,
      augment: opts.augment,
      ganStartStep: opts.ganStartStep,
      checkpointEverySeconds: opts.checkpointEverySeconds,
      checkpointEverySteps: val.length ? opts.validateEverySteps : Math.max(opts.validateEverySteps, 100),
      // model/ is written at the end only (best/ whenever validation improves).
      modelEverySeconds: 1e9,
      rescanEverySeconds: 1e9,
      valSamples: 64,
      backend: backend.backend,
      initialGenerator: base,
      shapePrior: priorInLoss,
      modelName: runState.modelName,
      baseModel: runState.baseModel,
      saveModels: true,
      signal: stopper.signal,
      log,
      onStart: (info) => {
        startStep = info.step
        started = Date.now()
        emit({ type: 'started', step: info.step, totalSteps, resumed: info.resumed, backend: backend.backend, trainCount: train.length, valCount: val.length, before })
      },
      onProgress: (p) => {
        if (p.event === 'step') {
          if (opts.maxSeconds > 0 && Date.now() - jobStarted > opts.maxSeconds * 1000 && p.step < p.totalSteps && !stopper.signal.aborted) {
            timeLimited = true
            log(`time limit of ${Math.round(opts.maxSeconds)} s reached: stopping at step ${p.step}`)
            stopper.abort('time-limit')
          }
          emit({ type: 'step', step: p.step, totalSteps: p.totalSteps, losses: p.losses, msPerStep: p.msPerStep, etaSeconds: ((p.totalSteps - p.step) * p.msPerStep) / 1000 })
        } else if (p.event === 'validation' && p.val) {
          const improved = p.val.darkeningL1 < bestLoss
          if (improved) {
            bestLoss = p.val.darkeningL1
            sinceBest = 0
          } else sinceBest++
          emit({ type: 'validation', step: p.step, val: p.val, best: improved })
          if (sinceBest >= opts.patience && p.step < p.totalSteps && !stopper.signal.aborted) {
            stoppedEarly = true
            log(`validation has not improved for ${sinceBest} checks: stopping early at step ${p.step}`)
            stopper.abort('early-stop')
          }
        } else if (p.event === 'checkpoint') {
          emit({ type: 'checkpoint', step: p.step, previewPath: join(runDir, 'previews', 'latest.png'), lossPlotPath: join(runDir, 'loss.png') })
        }
      },
    })
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    base.dispose()
  }
  const secs = (Date.now() - started) / 1000
  const stepsThisSession = result.step - startStep
  const common = {
    runDir,
    baseModel: runState.baseModel,
    before,
    lastStep: result.step,
    stepsThisSession,
    stepsPerSecond: secs > 0 ? stepsThisSession / secs : 0,
    wallTimeSeconds: result.wallTimeSeconds,
    backend: backend.backend,
    trainCount: train.length,
    valCount: val.length,
    warnings,
  }
  if (result.aborted && !stoppedEarly && !timeLimited) {
    if (opts.signal?.reason === 'cancel') {
      await fs.rm(runDir, { recursive: true, force: true })
      return { ...common, status: 'cancelled', outDir: null, manifest: null, after: null, savedStep: 0 }
    }
    return { ...common, status: 'paused', outDir: null, manifest: null, after: null, savedStep: 0 }
  }

  // The light of the training pairs (a studio's shadows fall one way); too few visible shadows
  // keep the base model's.
  const lightPrior = fitLightPrior(castAnglesOf(train)) ?? baseManifest.training?.lightPrior ?? null
  // The base model's silhouette prior, as it is. Refitted to the pairs' own shadows (their length
  // and tint) it only traded GRMSE for LRMSE on the studio look's extra pairs (9.75 / 50.29 against
  // 9.34 / 53.71 as it is, 9.55 / 55.20 without: docs/model.md, eleventh session).
  const shapePrior = baseManifest.shapePrior

  // The saved model: the best validation (best/), else the last state (model/).
  const bestDir = join(runDir, 'best')
  const chosenDir = val.length && (await exists(join(bestDir, 'manifest.json'))) ? bestDir : join(runDir, 'model')
  const { model: tuned, manifest: tunedManifest } = await loadTfjsModel(chosenDir)
  try {
    const after = valExamples.length ? validate(tuned, valExamples, S, priorInLoss) : null
    const savedStep = tunedManifest.training?.steps ?? result.step
    if (before && after && after.darkeningL1 >= before.darkeningL1) {
      warnings.push('validation did not improve on the base model: the saved model is the best fine-tuned state, but the base model may serve these pictures as well')
    }
    const manifest = await saveModelDir(outDir, tuned, {
      name: runState.modelName,
      baseModel: runState.baseModel,
      inputSize: S,
      architectureVersion: ARCHITECTURE_VERSION,
      architecture: { ...modelConfig },
      ...(shapePrior ? { shapePrior } : {}),
      training: {
        dataCount: train.length,
        steps: savedStep,
        wallTimeSeconds: Math.round(result.wallTimeSeconds),
        backend: backend.backend,
        batch: runState.batch,
        lrG: runState.lr,
        ...(baseManifest.training?.attentionPositiveCap !== undefined ? { attentionPositiveCap: baseManifest.training.attentionPositiveCap } : {}),
        ...(lightPrior ? { lightPrior } : {}),
        ...(priorInLoss ? { shapePriorInLoss: true } : {}),
        finetune: {
          from: fromModelDir,
          baseSteps: baseManifest.training?.steps ?? null,
          pairsDir,
          trainPairs: train.length,
          validationPairs: val.length,
          rejectedPairs: runState.rejected.length,
          derivedObjectShadow: runState.derivedObjectShadow,
          unknownOccluders: runState.unknownOccluders,
          stepsRun: result.step,
          stoppedEarly,
          timeLimited,
        },
      },
      metrics: {
        validation: {
          note: `fine-tune validation split, ${S}x${S} model resolution; RMSE on 0-255`,
          count: val.length,
          before: before ? { LRMSE: before.localRmse, GRMSE: before.globalRmse, darkeningL1: before.darkeningL1 } : null,
          after: after ? { LRMSE: after.localRmse, GRMSE: after.globalRmse, darkeningL1: after.darkeningL1 } : null,
        },
      },
    })
    return { ...common, status: stoppedEarly ? 'stopped-early' : timeLimited ? 'time-limit' : 'finished', outDir, manifest, after, savedStep }
  } finally {
    tuned.dispose()
  }
}

/** The image-space cast angle of each pair whose object shadow is visible (radians). */
function castAnglesOf(pairs: CheckedPair[]): number[] {
  return pairs.map((p) => castAngleOf(toFloat(p.object), toFloat(p.objectShadow), p.size)).filter((a): a is number => a !== null)
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  )
}
