import { z } from 'zod'

/**
 * The Fine-tune panel's part of the API contract (issue 7): the job's settings (remembered under
 * panels.finetune), the pair check report, the job's state with its loss curves, and the model list
 * of the model manager. The methods and events that carry them are listed in src/shared/api.ts.
 */

export const FinetuneSettings = z.object({
  pairsDir: z.string().max(4096).default(''),
  /** Name of the new model (in the models folder). */
  name: z.string().max(64).default(''),
  /** Model to start from: a model name; empty = the active model. */
  from: z.string().max(64).default(''),
  steps: z.number().int().min(1).max(1_000_000).default(600),
  batch: z.number().int().min(1).max(64).default(4),
  lr: z.number().min(1e-7).max(0.1).default(1e-4),
  /** Validate (and checkpoint, refresh the previews) every N steps. */
  validateEvery: z.number().int().min(1).max(100_000).default(50),
  /** Stop after this many minutes (0 = no limit). */
  minutes: z.number().min(0).max(100_000).default(0),
})
export type FinetuneSettings = z.infer<typeof FinetuneSettings>

export function finetuneSettingsFrom(raw: unknown): FinetuneSettings {
  const r = FinetuneSettings.safeParse(raw ?? {})
  return r.success ? r.data : FinetuneSettings.parse({})
}

export const PairCheckReport = z.object({
  root: z.string(),
  accepted: z.array(z.object({ id: z.string(), layout: z.enum(['folder', 'flat']), derived: z.array(z.string()), split: z.enum(['train', 'validation']).optional() })),
  rejected: z.array(z.object({ id: z.string(), where: z.string(), reasons: z.array(z.string()) })),
  derivedObjectShadow: z.number().int(),
  unknownOccluders: z.number().int(),
})
export type PairCheckReport = z.infer<typeof PairCheckReport>

export const ValidationPoint = z.object({ step: z.number().int(), lrmse: z.number(), grmse: z.number(), loss: z.number() })
export type ValidationPoint = z.infer<typeof ValidationPoint>

export const FinetuneJobState = z.object({
  jobId: z.string().max(100),
  state: z.enum(['starting', 'running', 'pausing', 'paused', 'cancelling', 'cancelled', 'saving', 'finished', 'failed']),
  settings: FinetuneSettings,
  /** The model name the result is saved under, and its base. */
  modelName: z.string(),
  baseModel: z.string().nullable(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  etaSeconds: z.number().nullable(),
  stepsPerSecond: z.number(),
  /** Training loss per step (thinned to at most a few hundred points) and validation points. */
  train: z.array(z.object({ step: z.number().int(), loss: z.number() })),
  val: z.array(ValidationPoint),
  before: ValidationPoint.nullable(),
  after: ValidationPoint.nullable(),
  report: PairCheckReport.nullable(),
  /** Bumped whenever the preview sheet on disk is rewritten (the panel refetches it). */
  previewVersion: z.number().int(),
  /** How the job ended: finished, stopped early, time limit. */
  outcome: z.string().nullable(),
  warnings: z.array(z.string()),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
})
export type FinetuneJobState = z.infer<typeof FinetuneJobState>

export const ModelInfo = z.object({
  name: z.string(),
  builtin: z.boolean(),
  active: z.boolean(),
  baseModel: z.string().nullable(),
  inputSize: z.number().int().nullable(),
  steps: z.number().int().nullable(),
  /** Fine-tune validation LRMSE after (fine-tuned models). */
  lrmse: z.number().nullable(),
  problem: z.string().nullable(),
})
export type ModelInfo = z.infer<typeof ModelInfo>
export const ModelList = z.object({ models: z.array(ModelInfo), active: z.string() })
export type ModelList = z.infer<typeof ModelList>
