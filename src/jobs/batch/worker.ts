/**
 * A batch worker thread: one warm engine (its own onnxruntime session) and its own sharp
 * pipelines. It takes items from the job, runs up to `inFlight` of them at once (the decode of one
 * overlaps the inference and encode of another) and answers each with its outcome.
 *
 * Messages in:  { type: 'item', item } | { type: 'cancel' } | { type: 'close' }
 * Messages out: { type: 'ready', runtime, detail } | { type: 'fatal', code, message } | { type: 'outcome', outcome }
 */
import { parentPort, workerData } from 'node:worker_threads'
import sharp from 'sharp'
import { UserError } from '../../core/errors'
import { createShadowEngine } from '../../engine/inference'
import { ItemProcessor, type ProcessorConfig } from './process-item'
import type { ItemOutcome, PlannedItem } from './types'

export interface WorkerConfig {
  engine: { modelDir?: string; runtime?: 'auto' | 'onnx' | 'tfjs'; threads?: number }
  processor: ProcessorConfig
  sharpConcurrency?: number
  /** Test hook (BatchOptions.testCrashOn). */
  crashOn?: string
}

export type WorkerRequest = { type: 'item'; item: PlannedItem } | { type: 'cancel' } | { type: 'close' }
export type WorkerReply = { type: 'ready'; runtime: string; detail: string } | { type: 'fatal'; code: string; message: string } | { type: 'outcome'; outcome: ItemOutcome }

const port = parentPort
if (!port) throw new Error('the batch worker must run in a worker thread')
const config = workerData as WorkerConfig
if (config.sharpConcurrency) sharp.concurrency(config.sharpConcurrency)
// sharp's cache only helps when the same file is read twice; batch never does.
sharp.cache(false)

let cancelled = false
// Thumbnails are a few kB: copied, not transferred.
const send = (m: WorkerReply) => port.postMessage(m)

try {
  const engine = await createShadowEngine(config.engine)
  const processor = new ItemProcessor(engine, config.processor)
  port.on('message', (m: WorkerRequest) => {
    if (m.type === 'cancel') cancelled = true
    else if (m.type === 'close') void engine.dispose().finally(() => port.close())
    else if (m.type === 'item' && m.item.rel === config.crashOn) process.exit(70) // ends this thread only
    else if (m.type === 'item') void processor.process(m.item, () => cancelled).then((outcome) => send({ type: 'outcome', outcome }))
  })
  send({ type: 'ready', runtime: engine.runtime, detail: engine.detail })
} catch (err) {
  send({ type: 'fatal', code: err instanceof UserError ? err.code : 'ENGINE_FAILED', message: err instanceof Error ? err.message : String(err) })
}
