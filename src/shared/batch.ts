import { z } from 'zod'

/**
 * The Batch panel's part of the API contract (issue 6): the job's settings (remembered in the
 * settings file under panels.batch), the job's state as the UI shows it, and one row per input.
 * The methods and events that carry them are listed in src/shared/api.ts.
 */

export const DEFAULT_BATCH_PLACE = 'bottom-centre,height=50%,margin=5%'

export const BatchSettings = z.object({
  inDir: z.string().max(4096).default(''),
  outDir: z.string().max(4096).default(''),
  /** composites: NAME.jpg + NAME.mask.png; cutouts: PNG/WebP cut-outs placed on `background`. */
  mode: z.enum(['composites', 'cutouts']).default('composites'),
  background: z.string().max(4096).default(''),
  place: z.string().max(300).default(DEFAULT_BATCH_PLACE),
  recursive: z.boolean().default(false),
  format: z.enum(['same', 'png', 'jpeg']).default('same'),
  quality: z.number().int().min(1).max(100).default(92),
  layers: z.boolean().default(false),
  projects: z.boolean().default(false),
  force: z.boolean().default(false),
  /** Model folder; empty = the app's model. */
  modelDir: z.string().max(4096).default(''),
})
export type BatchSettings = z.infer<typeof BatchSettings>

/** Reads remembered settings (anything invalid falls back to the defaults). */
export function batchSettingsFrom(raw: unknown): BatchSettings {
  const r = BatchSettings.safeParse(raw ?? {})
  return r.success ? r.data : BatchSettings.parse({})
}

export const BatchRow = z.object({
  /** Position among the processed inputs (thumbnails are fetched by it); absent for inputs settled by planning. */
  index: z.number().int().nonnegative().optional(),
  input: z.string().max(4096),
  kind: z.string().max(50),
  status: z.enum(['done', 'skipped', 'failed']),
  reason: z.string().max(5000),
  outputs: z.array(z.string().max(4096)).max(10),
  hasThumbnail: z.boolean(),
  /** Milliseconds this input took (processed ones only). */
  ms: z.number().nonnegative().optional(),
})
export type BatchRow = z.infer<typeof BatchRow>

export const BatchProgress = z.object({
  /** Inputs in the folder (all of them, junk included). */
  total: z.number().int().nonnegative(),
  /** Inputs this run processes, and how many of them are finished (done or failed). */
  toProcess: z.number().int().nonnegative(),
  processed: z.number().int().nonnegative(),
  done: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Inputs skipped (junk, already done) or failed before processing. */
  skipped: z.number().int().nonnegative(),
  failedBefore: z.number().int().nonnegative(),
  etaSeconds: z.number().nonnegative().nullable(),
  imagesPerMinute: z.number().nonnegative(),
  elapsedSeconds: z.number().nonnegative(),
})
export type BatchProgress = z.infer<typeof BatchProgress>

export const BatchJobState = z.object({
  jobId: z.string().max(100),
  state: z.enum(['starting', 'running', 'paused', 'cancelling', 'finished', 'cancelled', 'failed']),
  settings: BatchSettings,
  progress: BatchProgress,
  /** What runs the model (shown to the user). */
  runtime: z.string().max(500).optional(),
  /** Set when the job could not run at all (no model, bad folder...). */
  error: z.object({ code: z.string().max(100), message: z.string().max(5000) }).optional(),
  reportCsv: z.string().max(4096).optional(),
  reportJson: z.string().max(4096).optional(),
})
export type BatchJobState = z.infer<typeof BatchJobState>
