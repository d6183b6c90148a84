import { z } from 'zod'
import { AssetMeta, Composition, ShadowLayer } from './project'
import { RecentFile, Settings, SettingsPatch } from './settings'
import { BatchJobState, BatchRow, BatchSettings } from './batch'
import { FinetuneJobState, FinetuneSettings, ModelList, PairCheckReport } from './finetune'

/**
 * The one API contract between the UI (renderer) and the Node side (Electron main or the web
 * bridge). Every method has a zod schema for its request and its response; every event has one for
 * its payload. Both sides validate every message at runtime (src/shared/rpc.ts), so a bad message
 * is refused at the boundary whichever transport carried it.
 *
 * Pixels cross as binary (`Bytes`: a Uint8Array carried by structured clone over IPC and by the
 * binary frame of src/shared/frame.ts over HTTP), never as base64 inside JSON.
 */

/** Realm-safe Uint8Array check (values that crossed contextBridge or IPC are from another realm). */
export const Bytes = z.custom<Uint8Array>(
  (v) => ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]',
  { message: 'expected binary data (Uint8Array)' },
)

/** A file the user gave us: its bytes (browser upload, drag and drop) or its path (native dialog, recent files). */
export const FileSource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('bytes'), name: z.string().min(1).max(500), bytes: Bytes }),
  z.object({ type: z.literal('path'), path: z.string().min(1).max(4096) }),
])
export type FileSource = z.infer<typeof FileSource>

/** A downscaled image for the canvas; the original stays on the Node side. */
export const Preview = z.object({
  assetId: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  mime: z.enum(['image/jpeg', 'image/png', 'image/webp']),
  bytes: Bytes,
})
export type Preview = z.infer<typeof Preview>

export const ExportFormat = z.enum(['png', 'jpeg'])
export type ExportFormat = z.infer<typeof ExportFormat>

export const ExportOptions = z.object({
  format: ExportFormat,
  quality: z.number().int().min(1).max(100).default(92),
})

/** A project as the editor receives it: the composition and a preview for every asset. */
export const LoadedProject = z.object({
  composition: Composition,
  previews: z.array(Preview),
  /** Where it was read from (absent for uploads and the sample). */
  path: z.string().optional(),
  name: z.string(),
  /** Notes from the restore step (e.g. "upgraded from version 0"), shown to the user. */
  notes: z.array(z.string()).default([]),
})
export type LoadedProject = z.infer<typeof LoadedProject>

export const Capabilities = z.object({
  /** Native open/save dialogs (Electron). Without them the UI uploads files and downloads results. */
  nativeDialogs: z.boolean(),
  /** Files can be opened by path (recent files). */
  openByPath: z.boolean(),
})

const Empty = z.object({}).strict()

/** The shadow engine process as the UI shows it. */
export const EngineStatus = z.object({
  state: z.enum(['idle', 'starting', 'ready', 'crashed', 'unavailable']),
  runtime: z.string().optional(),
  backend: z.string().optional(),
  detail: z.string().optional(),
  modelName: z.string().optional(),
  message: z.string().optional(),
})
export type EngineStatus = z.infer<typeof EngineStatus>

function method<Req extends z.ZodType, Res extends z.ZodType>(request: Req, response: Res) {
  return { request, response }
}

export const api = {
  /** First call of a renderer: who we are, what the transport can do, the settings. */
  'app.hello': method(
    Empty,
    z.object({
      appVersion: z.string(),
      projectFormatVersion: z.number().int(),
      transport: z.enum(['electron', 'web']),
      capabilities: Capabilities,
      settings: Settings,
      sampleAvailable: z.boolean(),
    }),
  ),
  /** The renderer reports its document state (window title, unsaved-changes prompt on close). */
  'app.documentState': method(
    z.object({ title: z.string().max(500), dirty: z.boolean() }),
    z.object({}),
  ),
  /** Closes the window without asking again (after "save then close"); no-op in the browser. */
  'app.close': method(Empty, z.object({})),

  'settings.get': method(Empty, Settings),
  'settings.update': method(SettingsPatch, Settings),
  'recent.clear': method(Empty, Settings),

  /** Reads an image (photo or cut-out), keeps the original on the Node side, returns its preview. */
  'asset.import': method(
    z.object({ role: z.enum(['photo', 'object']), source: FileSource }),
    z.object({ asset: AssetMeta, preview: Preview }),
  ),
  /** Drops originals the renderer no longer references (nothing in the undo history either). */
  'asset.release': method(z.object({ ids: z.array(z.string()).max(10000) }), z.object({ released: z.number().int() })),

  /** The bundled sample photo and cut-out (first start). */
  'project.sample': method(Empty, LoadedProject),
  'project.open': method(z.object({ source: FileSource }), LoadedProject),
  /** Encodes a project file and returns its bytes (the browser downloads them). */
  'project.encode': method(z.object({ composition: Composition }), z.object({ bytes: Bytes })),
  /** Writes a project file to a path (native save dialog); atomic. */
  'project.saveToPath': method(
    z.object({ composition: Composition, path: z.string().min(1).max(4096) }),
    z.object({ path: z.string(), name: z.string() }),
  ),

  /** Renders the composition from the originals, at the photo's original size. */
  'export.render': method(
    z.object({ composition: Composition, options: ExportOptions }),
    z.object({ bytes: Bytes, mime: z.string(), width: z.number().int(), height: z.number().int() }),
  ),
  'export.toPath': method(
    z.object({ composition: Composition, options: ExportOptions, path: z.string().min(1).max(4096) }),
    z.object({ path: z.string(), width: z.number().int(), height: z.number().int() }),
  ),

  /**
   * Generates the shadow of one object layer (issue 5) in the engine process. The reply is a ready
   * shadow layer (not yet in the composition: the editor inserts it beneath its object as one undo
   * step) with its new assets and their previews. `requestId` names the request for
   * `shadow.cancel` and for the `engine.progress` events. With `useEditedAttention`, the object's
   * current shadow layer's painted attention maps are fed to the shadow block.
   */
  'shadow.generate': method(
    z.object({
      composition: Composition,
      objectId: z.string().min(1).max(64),
      requestId: z.string().min(1).max(100),
      useEditedAttention: z.boolean().default(false),
    }),
    z.object({
      layer: ShadowLayer,
      assets: z.array(AssetMeta),
      previews: z.array(Preview),
      empty: z.boolean(),
      warnings: z.array(z.string()),
      engine: z.object({ runtime: z.string(), backend: z.string(), detail: z.string(), modelName: z.string() }),
      timings: z.record(z.string(), z.number()),
    }),
  ),
  'shadow.cancel': method(z.object({ requestId: z.string().min(1).max(100) }), z.object({ cancelled: z.boolean() })),
  /** Stores an image the editor made (a painted brush mask or attention map, PNG) and returns its asset. */
  'shadow.putImage': method(
    z.object({ name: z.string().min(1).max(200), bytes: Bytes }),
    z.object({ asset: AssetMeta, preview: Preview }),
  ),
  /** The engine process: idle, starting, ready (runtime and backend) or crashed. Loads the model when `load`. */
  'engine.status': method(z.object({ load: z.boolean().default(false) }), EngineStatus),
  /** Test hook: makes the engine process crash (recovery is part of the contract). */
  'engine.crash': method(Empty, z.object({})),

  /** Batch (issue 6): starts a job over a folder (one at a time); progress comes as batch.state / batch.item events. */
  'batch.start': method(BatchSettings, BatchJobState),
  'batch.control': method(z.object({ jobId: z.string().max(100), action: z.enum(['pause', 'resume', 'cancel']) }), BatchJobState),
  /** The current or last job (the panel reopened), null when none ran. */
  'batch.status': method(Empty, z.object({ job: BatchJobState.nullable() })),
  /** A small JPEG of a finished result, by its index; null once dropped. */
  'batch.thumbnail': method(z.object({ jobId: z.string().max(100), index: z.number().int().nonnegative() }), z.object({ bytes: Bytes.nullable() })),
  /** Opens a folder (the batch's output) in the system's file manager. */
  'batch.openFolder': method(z.object({ path: z.string().min(1).max(4096) }), z.object({ opened: z.boolean() })),

  /** Fine-tune (issue 7): checks a pair folder (nothing is trained). */
  'finetune.check': method(z.object({ pairsDir: z.string().max(4096) }), PairCheckReport),
  /** Starts a fine-tune (one at a time, in its own thread); progress comes as finetune.state events. */
  'finetune.start': method(FinetuneSettings, FinetuneJobState),
  /** Pause (checkpoint and stop; resumable) or cancel (stop and delete the run). */
  'finetune.control': method(z.object({ jobId: z.string().max(100), action: z.enum(['pause', 'cancel']) }), FinetuneJobState),
  /** Continues a paused or interrupted run; `save` stops at its current step and saves the best state as the model. */
  'finetune.resume': method(z.object({ name: z.string().min(1).max(64), save: z.boolean().default(false) }), FinetuneJobState),
  /** The current or last job, and the unfinished runs that can be resumed (also after a restart). */
  'finetune.status': method(Empty, z.object({ job: FinetuneJobState.nullable(), resumable: z.array(z.object({ name: z.string(), step: z.number().int() })) })),
  /** The run's latest preview sheet (PNG: input, model, target, ...), null before the first. */
  'finetune.preview': method(z.object({ jobId: z.string().max(100) }), z.object({ bytes: Bytes.nullable() })),
  /** Model manager: the models (shipped default first) and the active one. */
  'models.list': method(Empty, ModelList),
  /** Makes a model active (kept in settings); the shadow engine switches to it on its next use. */
  'models.use': method(z.object({ name: z.string().min(1).max(64) }), ModelList),

  /** Native dialogs (Electron only; capabilities.nativeDialogs says whether they exist). */
  'dialog.openFile': method(
    z.object({ kind: z.enum(['photo', 'object', 'project']), multiple: z.boolean().default(false) }),
    z.object({ paths: z.array(z.string()) }),
  ),
  /** A folder (the Batch panel's input or output); starts in the last one used for that purpose. */
  'dialog.openFolder': method(z.object({ purpose: z.enum(['batchIn', 'batchOut']) }), z.object({ path: z.string().nullable() })),
  'dialog.saveFile': method(
    z.object({ kind: z.enum(['project', 'export']), suggestedName: z.string().max(500), format: ExportFormat.optional() }),
    z.object({ path: z.string().nullable() }),
  ),
} as const

export type Api = typeof api
export type Method = keyof Api
export type ApiRequest<M extends Method> = z.input<Api[M]['request']>
export type ApiResponse<M extends Method> = z.output<Api[M]['response']>
export type ParsedRequest<M extends Method> = z.output<Api[M]['request']>

export const METHODS = Object.keys(api) as Method[]
export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(api, name)
}

/** Events pushed from the Node side to the renderer. */
export const events = {
  /** A menu item or a native accelerator asks the renderer to run one of its actions. */
  'menu.action': z.object({ action: z.string().min(1).max(100) }),
  /** The window wants to close with unsaved changes and the user chose "Save": save, then app.close. */
  'app.saveThenClose': z.object({}),
  /** Progress of a shadow.generate request. */
  'engine.progress': z.object({ requestId: z.string(), stage: z.string(), fraction: z.number().optional(), message: z.string().optional() }),
  /** The engine process changed state (started, ready with its backend, crashed and will restart). */
  'engine.status': EngineStatus,
  /** The batch job changed (state, counts, ETA): at most a few times a second. */
  'batch.state': BatchJobState,
  /** One input settled (done, skipped, failed). */
  'batch.item': z.object({ jobId: z.string().max(100), row: BatchRow }),
  /** The fine-tune job changed (step, losses, validation, preview, end): at most a few times a second. */
  'finetune.state': FinetuneJobState,
  /** A file given on the command line or dropped on the app icon. */
  'app.openPath': z.object({ path: z.string(), kind: z.enum(['photo', 'object', 'project']) }),
} as const

export type Events = typeof events
export type EventName = keyof Events
export type EventPayload<E extends EventName> = z.output<Events[E]>
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(events, name)
}

/** Every reply is an envelope: the result, or an error meant for a person. */
export const ApiError = z.object({ code: z.string().max(100), message: z.string().max(5000) })
export type ApiError = z.infer<typeof ApiError>
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: ApiError }

export type { RecentFile }
