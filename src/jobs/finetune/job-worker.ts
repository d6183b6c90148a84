/**
 * The thread that runs one fine-tune job for the app, so pair checks and training never run on the
 * app's main loop.
 *
 * In:  { type: 'pause' | 'cancel' }
 * Out: { type: 'event', event } ... then { type: 'end', result } or { type: 'error', code, message }
 */
import { parentPort, workerData } from 'node:worker_threads'
import { UserError } from '../../core/errors'
import { runFinetune, type FinetuneEvent, type FinetuneOptions, type FinetuneResult } from './job'

export type FinetuneWorkerData = Omit<FinetuneOptions, 'signal' | 'onEvent' | 'augment'>
export type FinetuneWorkerRequest = { type: 'pause' | 'cancel' }
export type FinetuneWorkerReply =
  | { type: 'event'; event: FinetuneEvent }
  | { type: 'end'; result: Omit<FinetuneResult, 'manifest'> }
  | { type: 'error'; code: string; message: string }

const port = parentPort
if (!port) throw new Error('the fine-tune worker must run in a worker thread')
const options = workerData as FinetuneWorkerData
const controller = new AbortController()
const post = (m: FinetuneWorkerReply) => port.postMessage(m)
port.on('message', (m: FinetuneWorkerRequest) => {
  if (!controller.signal.aborted) controller.abort(m.type)
})
try {
  const { manifest: _manifest, ...result } = await runFinetune({ ...options, signal: controller.signal, onEvent: (event) => post({ type: 'event', event }) })
  post({ type: 'end', result })
} catch (err) {
  post({ type: 'error', code: err instanceof UserError ? err.code : 'INTERNAL', message: err instanceof Error ? err.message : String(err) })
}
port.close()
