import { z } from 'zod'
import { LightOrigin } from './project'

/**
 * The engine process protocol: how the app talks to the shadow engine's worker (a worker_thread
 * behind the web bridge and the CLI, a utilityProcess in Electron). One protocol for both, with
 * plain data only (numbers, strings, arrays, Uint8Array), so it survives structured clone and
 * Electron's MessagePort alike.
 *
 *   host -> worker   { id, type, payload }      a request (queued; one runs at a time)
 *   host -> worker   { id, cancel: true }       cancel request `id` (queued: dropped; running: aborted between stages)
 *   worker -> host   { id, progress }           progress of request `id`
 *   worker -> host   { id, result }             request `id` succeeded
 *   worker -> host   { id, error }              request `id` failed ({ code, message } meant for a person)
 *   worker -> host   { id: 0, ready: {...} }    sent once when the worker is up
 *
 * The model loads once (first request or `load`) and stays warm in the worker.
 */

export const EngineErrorSchema = z.object({ code: z.string().max(100), message: z.string().max(5000) })
export type EngineError = z.infer<typeof EngineErrorSchema>

export const EngineProgressSchema = z.object({
  stage: z.string().max(100),
  /** 0..1, when known. */
  fraction: z.number().min(0).max(1).optional(),
  message: z.string().max(500).optional(),
})
export type EngineProgress = z.infer<typeof EngineProgressSchema>

const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected a Uint8Array' })

const TransformData = z.object({
  x: z.number(),
  y: z.number(),
  scaleX: z.number().positive(),
  scaleY: z.number().positive(),
  angle: z.number(),
  flipX: z.boolean(),
  flipY: z.boolean(),
})

/** An image the worker needs: its id (content hash: the worker caches decoded photos by it) and its bytes. */
const ImageRef = z.object({ id: z.string().min(1).max(100), bytes: Bytes })

/** Where the engine and model come from (the worker's configuration). */
export const EngineConfigSchema = z.object({
  modelDir: z.string().max(4096).optional(),
  runtime: z.enum(['auto', 'onnx', 'tfjs']).optional(),
  threads: z.number().int().positive().max(256).optional(),
})
export type EngineConfig = z.infer<typeof EngineConfigSchema>

export const GeneratePayloadSchema = z.object({
  /** The background photo (original bytes). */
  photo: ImageRef,
  /** Other cut-outs in the scene (drawn into the photo first: they are part of what the model sees). */
  scene: z.array(z.object({ image: ImageRef, transform: TransformData, opacity: z.number().min(0).max(1) })).max(100).default([]),
  /** The object to shadow: cut-out bytes and its transform (photo pixels, centre origin). */
  object: z.object({ image: ImageRef, transform: TransformData }),
  /**
   * Corrected attention maps, if the user painted them: an RGB PNG over `rect` (photo pixels),
   * R = occluders, G = occluder shadows. The shadow block then runs on these instead of its own.
   */
  attention: z.object({ png: Bytes, rect: z.object({ x: z.number(), y: z.number(), width: z.number().positive(), height: z.number().positive() }) }).optional(),
  /**
   * The steered light's cast direction in radians (photo pixels, x right, y down). A model that
   * works in the cast frame casts the shadow that way; absent, it reads the direction from the scene.
   */
  castAngle: z.number().finite().optional(),
  /** Longest side of the returned shadow image (the model's detail is far below this). */
  maxLayerSide: z.number().int().min(64).max(8192).default(1024),
})
export type GeneratePayload = z.input<typeof GeneratePayloadSchema>

export const EngineInfoSchema = z.object({
  runtime: z.string(),
  backend: z.string(),
  detail: z.string(),
  modelDir: z.string(),
  modelName: z.string(),
  inputSize: z.number().int(),
  loadMs: z.number(),
})
export type EngineInfo = z.infer<typeof EngineInfoSchema>

export const GenerateResultSchema = z.object({
  /** The shadow as an RGBA multiply layer (PNG), covering `rect` in photo pixels (scaled to fit maxLayerSide). */
  layerPng: Bytes,
  layerWidth: z.number().int().positive(),
  layerHeight: z.number().int().positive(),
  rect: z.object({ x: z.number(), y: z.number(), width: z.number().positive(), height: z.number().positive() }),
  /** Attention maps actually used (RGB PNG: R occluders, G occluder shadows) over `attentionRect`. */
  attentionPng: Bytes,
  attentionRect: z.object({ x: z.number(), y: z.number(), width: z.number().positive(), height: z.number().positive() }),
  contact: z.object({ x: z.number(), y: z.number() }),
  castAngle: z.number().nullable(),
  castLength: z.number().nonnegative(),
  /** Where the direction the model cast in came from; null when the model chose it itself (no cast frame). */
  lightOrigin: LightOrigin.nullable(),
  /** True when the shadow is (nearly) empty: the model put no shadow there. */
  empty: z.boolean(),
  warnings: z.array(z.string()),
  engine: EngineInfoSchema,
  timings: z.record(z.string(), z.number()),
})
export type GenerateResult = z.infer<typeof GenerateResultSchema>

/** Request types and their payloads / results. */
export const engineRequests = {
  /** Loads the model (if not yet) and reports the runtime and backend. */
  load: { payload: z.object({}).default({}), result: EngineInfoSchema },
  generate: { payload: GeneratePayloadSchema, result: GenerateResultSchema },
  /** Test hook: makes the worker exit abruptly (crash recovery is tested with it). */
  crash: { payload: z.object({}).default({}), result: z.object({}) },
} as const
export type EngineRequestType = keyof typeof engineRequests
export type EnginePayload<T extends EngineRequestType> = z.input<(typeof engineRequests)[T]['payload']>
export type EngineResult<T extends EngineRequestType> = z.output<(typeof engineRequests)[T]['result']>

export interface EngineRequestMessage {
  id: number
  type: EngineRequestType
  payload: unknown
}
export interface EngineCancelMessage {
  id: number
  cancel: true
}
export type HostToWorker = EngineRequestMessage | EngineCancelMessage

export type WorkerToHost =
  | { id: number; progress: EngineProgress }
  | { id: number; result: unknown }
  | { id: number; error: EngineError }
  | { id: 0; ready: { pid: number } }

export function isEngineRequestType(t: unknown): t is EngineRequestType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(engineRequests, t)
}

/** Checks a message from a worker (anything else is a protocol error, reported as such). */
export function parseWorkerMessage(raw: unknown): WorkerToHost | null {
  if (!raw || typeof raw !== 'object') return null
  const m = raw as Record<string, unknown>
  if (typeof m.id !== 'number') return null
  if ('ready' in m) return m as WorkerToHost
  if ('progress' in m) {
    const p = EngineProgressSchema.safeParse(m.progress)
    return p.success ? { id: m.id, progress: p.data } : null
  }
  if ('error' in m) {
    const e = EngineErrorSchema.safeParse(m.error)
    return e.success ? { id: m.id, error: e.data } : null
  }
  if ('result' in m) return { id: m.id, result: m.result }
  return null
}
