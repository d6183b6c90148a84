/**
 * Types shared by the batch job's parts: the plan (what each input becomes), the per-item work
 * order sent to a worker, its outcome, the progress events and the report rows.
 * Everything here is plain data (structured-clone safe) because it crosses worker_threads.
 */
import type { Placement } from './placement'

export type OutputFormat = 'png' | 'jpeg' | 'webp'

export interface BatchOptions {
  /** Folder with the inputs (never written to, except when `out` lies inside it). */
  inDir: string
  /** Folder for the results, report.csv, report.json and the resume state. */
  outDir: string
  /** Cut-out mode: the background photo every cut-out is placed on. */
  background?: string
  /** Cut-out mode: where and how large each cut-out goes (parsePlacement). */
  place?: Placement
  recursive?: boolean
  /** Output format; default: the input's format (cut-out mode: the background's). */
  format?: 'png' | 'jpeg'
  /** JPEG/WebP quality 1-100 (default 92). */
  quality?: number
  /** Also write NAME.shadow.png, the shadow alone as an RGBA multiply layer (photo-sized). */
  layers?: boolean
  /** Also write NAME.umbra, a project with the photo, the object and the shadow layer. */
  projects?: boolean
  /** Redo inputs already done by an earlier run. */
  force?: boolean
  /** Model folder (default resources/models/default). */
  modelDir?: string
  runtime?: 'auto' | 'onnx' | 'tfjs'
  /** worker_threads, each with its own engine; 0 = everything in this thread. Default: cores. */
  workers?: number
  /** Images in flight per worker (decode of one overlaps inference/encode of another). Default 2. */
  inFlight?: number
  /** onnxruntime intra-op threads per engine. Default: cores / workers (at least 1). */
  threadsPerEngine?: number
  /** sharp (libvips) threads per operation; default 1 with several workers, else sharp's default. */
  sharpConcurrency?: number
  /** Longest side of a JPEG thumbnail of each result sent with its event (the panel); 0 = none. */
  thumbnailSize?: number
  /** Test hook: the worker that meets this input (its `rel`) dies, as a crash in native code would. */
  testCrashOn?: string
}

export type InputKind = 'composite' | 'cutout' | 'mask' | 'background' | 'system' | 'other' | 'folder'
export type ItemStatus = 'done' | 'skipped' | 'failed'

/** What the batch will make of one input; paths are absolute, `rel` relative to inDir with '/'. */
export interface PlannedItem {
  index: number
  rel: string
  input: string
  kind: 'composite' | 'cutout'
  /** Composite mode: the object's mask (NAME.mask.png beside the photo). */
  mask?: string
  outputs: { image: string; layer?: string; project?: string }
  format: OutputFormat
}

/** An input that is reported but not processed (system file, non-image, mask without photo...). */
export interface SkippedInput {
  rel: string
  input: string
  kind: InputKind
  status: 'skipped' | 'failed'
  reason: string
}

export interface ItemTimings {
  read: number
  decode: number
  shadow: number
  encode: number
  write: number
  total: number
}

export interface ItemOutcome {
  index: number
  ok: boolean
  /** Stable code of the failure (UserError codes, or INTERNAL). */
  code?: string
  reason?: string
  warnings: string[]
  width?: number
  height?: number
  timings?: ItemTimings
  /** JPEG thumbnail of the result when thumbnails were asked for. */
  thumbnail?: Uint8Array
  /** The job was cancelled before this item wrote anything. */
  cancelled?: boolean
}

export interface ReportRow {
  input: string
  kind: InputKind
  status: ItemStatus
  reason: string
  outputs: string[]
  width?: number
  height?: number
  /** Milliseconds; absent for items that were not processed in this run. */
  timings?: ItemTimings
}

export interface BatchSummary {
  total: number
  done: number
  skipped: number
  failed: number
  cancelled: boolean
  /** Items processed in this run (done or failed, not resumed/skipped). */
  processed: number
  wallSeconds: number
  imagesPerMinute: number
  runtime: string
  workers: number
  reportCsv: string
  reportJson: string
}

export type BatchEvent =
  | { type: 'planned'; total: number; toProcess: number; alreadyDone: number; skipped: number; failed: number; runtime?: string }
  | { type: 'engine'; runtime: string; detail: string; workers: number }
  | { type: 'item'; row: ReportRow; index?: number; thumbnail?: Uint8Array }
  | { type: 'progress'; processed: number; toProcess: number; done: number; failed: number; elapsedSeconds: number; etaSeconds: number | null; imagesPerMinute: number }
  | { type: 'paused'; paused: boolean }
  | { type: 'finished'; summary: BatchSummary }
