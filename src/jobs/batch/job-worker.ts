/**
 * The thread that runs one batch job for the app, so planning, resume checks and report writing
 * never run on the app's main loop (the items themselves run in runBatch's own worker pool).
 *
 * In:  { type: 'pause' | 'resume' | 'cancel' }
 * Out: { type: 'event', event: BatchEvent } ... then { type: 'end', summary } or { type: 'error', code, message }
 */
import { parentPort, workerData } from 'node:worker_threads'
import { UserError } from '../../core/errors'
import { PauseControl, runBatch } from './run'
import type { BatchEvent, BatchOptions, BatchSummary } from './types'

export interface JobWorkerData {
  options: BatchOptions
  appVersion: string
}
export type JobWorkerRequest = { type: 'pause' | 'resume' | 'cancel' }
export type JobWorkerReply = { type: 'event'; event: BatchEvent } | { type: 'end'; summary: BatchSummary } | { type: 'error'; code: string; message: string }

const port = parentPort
if (!port) throw new Error('the batch job worker must run in a worker thread')
const { options, appVersion } = workerData as JobWorkerData
const controller = new AbortController()
const pause = new PauseControl()
const post = (m: JobWorkerReply) => port.postMessage(m)
port.on('message', (m: JobWorkerRequest) => {
  if (m.type === 'pause') pause.pause()
  else if (m.type === 'resume') pause.resume()
  else if (m.type === 'cancel') controller.abort() // also ends a paused job: nothing new starts
})
try {
  const summary = await runBatch(options, { signal: controller.signal, pause, appVersion, onEvent: (event) => post({ type: 'event', event }) })
  post({ type: 'end', summary })
} catch (err) {
  post({ type: 'error', code: err instanceof UserError ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) })
}
port.close()
