/**
 * The app's side of batch jobs: runs one job at a time in its own worker thread (job-worker.ts),
 * keeps its state for the UI (progress, rows, thumbnails), and relays pause/resume/cancel.
 * Nothing heavy runs on the caller's loop: it only receives small messages.
 */
import { Worker } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import { UserError } from '../../core/errors'
import type { BatchJobState, BatchRow, BatchSettings } from '../../shared/batch'
import type { JobWorkerData, JobWorkerReply, JobWorkerRequest } from './job-worker'
import type { BatchEvent, BatchOptions } from './types'
import { workerEntry } from './entries'

/** Thumbnails kept per job (the panel shows the newest); older ones are dropped. */
const MAX_THUMBNAILS = 500
/** Progress reaches the UI at most this often (every item still updates the counts). */
const PROGRESS_INTERVAL_MS = 150

export interface BatchHostListener {
  onState(state: BatchJobState): void
  onItem(jobId: string, row: BatchRow): void
}

interface Job {
  state: BatchJobState
  worker: Worker
  thumbnails: Map<number, Uint8Array>
  lastStateSent: number
  stateTimer: NodeJS.Timeout | null
  ended: Promise<void>
}

export class BatchJobHost {
  private job: Job | null = null

  constructor(
    private readonly appVersion: string,
    private readonly listener: BatchHostListener,
  ) {}

  status(): BatchJobState | null {
    return this.job ? structuredClone(this.job.state) : null
  }

  running(): boolean {
    const s = this.job?.state.state
    return s === 'starting' || s === 'running' || s === 'paused' || s === 'cancelling'
  }

  start(settings: BatchSettings, options: BatchOptions): BatchJobState {
    if (this.running()) throw new UserError('BATCH_RUNNING', 'a batch is already running: wait for it, or cancel it first')
    const jobId = `batch-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
    const worker = new Worker(workerEntry('batch-job-worker', './job-worker-entry.mjs', import.meta.url), { workerData: { options, appVersion: this.appVersion } satisfies JobWorkerData })
    // The app (server, window) keeps the process alive; a batch alone must not block its exit.
    worker.unref()
    const state: BatchJobState = {
      jobId,
      state: 'starting',
      settings,
      progress: { total: 0, toProcess: 0, processed: 0, done: 0, failed: 0, skipped: 0, failedBefore: 0, etaSeconds: null, imagesPerMinute: 0, elapsedSeconds: 0 },
    }
    let endedResolve: () => void = () => {}
    const job: Job = { state, worker, thumbnails: new Map(), lastStateSent: 0, stateTimer: null, ended: new Promise((r) => (endedResolve = r)) }
    this.job = job
    let finished = false
    worker.on('message', (m: JobWorkerReply) => {
      if (m.type === 'event') this.onEvent(job, m.event)
      else if (m.type === 'end') {
        finished = true
        const s = m.summary
        job.state.state = s.cancelled ? 'cancelled' : 'finished'
        job.state.reportCsv = s.reportCsv
        job.state.reportJson = s.reportJson
        this.sendState(job, true)
      } else if (m.type === 'error') {
        finished = true
        job.state.state = 'failed'
        job.state.error = { code: m.code, message: m.message }
        this.sendState(job, true)
      }
    })
    const stopped = (why: string) => {
      if (!finished) {
        finished = true
        job.state.state = 'failed'
        job.state.error = { code: 'BATCH_CRASHED', message: `the batch stopped unexpectedly (${why}); rerun it to resume where it stopped` }
        this.sendState(job, true)
      }
      endedResolve()
    }
    worker.on('error', (err) => stopped(err.message))
    worker.on('exit', (code) => stopped(`exit code ${code}`))
    this.sendState(job, true)
    return structuredClone(state)
  }

  control(jobId: string, action: 'pause' | 'resume' | 'cancel'): BatchJobState {
    const job = this.job
    if (!job || job.state.jobId !== jobId) throw new UserError('NO_SUCH_BATCH', 'this batch is no longer known (it may have finished)')
    if (this.running()) {
      job.worker.postMessage({ type: action } satisfies JobWorkerRequest)
      if (action === 'cancel') job.state.state = 'cancelling'
      else if (job.state.state !== 'cancelling' && job.state.state !== 'starting') job.state.state = action === 'pause' ? 'paused' : 'running'
      this.sendState(job, true)
    }
    return structuredClone(job.state)
  }

  thumbnail(jobId: string, index: number): Uint8Array | null {
    const job = this.job
    if (!job || job.state.jobId !== jobId) return null
    return job.thumbnails.get(index) ?? null
  }

  /** Cancels a running job and waits for its thread to end (app shutdown). */
  async close(): Promise<void> {
    const job = this.job
    if (!job) return
    if (this.running()) job.worker.postMessage({ type: 'cancel' } satisfies JobWorkerRequest)
    const timer = setTimeout(() => void job.worker.terminate(), 10_000)
    await job.ended
    clearTimeout(timer)
  }

  private onEvent(job: Job, e: BatchEvent): void {
    const p = job.state.progress
    if (e.type === 'planned') {
      p.total = e.total
      p.toProcess = e.toProcess
      p.skipped = e.skipped
      p.failedBefore = e.failed
      job.state.state = 'running'
      this.sendState(job, true)
    } else if (e.type === 'engine') {
      job.state.runtime = `${e.runtime} (${e.detail}), ${e.workers ? `${e.workers} worker${e.workers > 1 ? 's' : ''}` : 'in-process'}`
      this.sendState(job, true)
    } else if (e.type === 'item') {
      if (e.thumbnail && e.index !== undefined) {
        job.thumbnails.set(e.index, e.thumbnail)
        if (job.thumbnails.size > MAX_THUMBNAILS) job.thumbnails.delete(job.thumbnails.keys().next().value as number)
      }
      const r = e.row
      if (e.index !== undefined && r.status === 'skipped') p.skipped++ // cancelled items
      this.listener.onItem(job.state.jobId, {
        index: e.index,
        input: r.input,
        kind: r.kind,
        status: r.status,
        reason: r.reason.slice(0, 5000),
        outputs: r.outputs,
        hasThumbnail: !!e.thumbnail && e.index !== undefined,
        ms: r.timings?.total,
      })
    } else if (e.type === 'progress') {
      p.processed = e.processed
      p.done = e.done
      p.failed = e.failed
      p.etaSeconds = e.etaSeconds
      p.imagesPerMinute = e.imagesPerMinute
      p.elapsedSeconds = e.elapsedSeconds
      this.sendState(job, e.processed >= e.toProcess)
    } else if (e.type === 'paused') {
      if (job.state.state === 'running' || job.state.state === 'paused') job.state.state = e.paused ? 'paused' : 'running'
      this.sendState(job, true)
    }
  }

  /** Sends the state now (`force`) or at most every PROGRESS_INTERVAL_MS, never dropping the last one. */
  private sendState(job: Job, force: boolean): void {
    const now = Date.now()
    if (!force && now - job.lastStateSent < PROGRESS_INTERVAL_MS) {
      job.stateTimer ??= setTimeout(() => {
        job.stateTimer = null
        this.sendState(job, true)
      }, PROGRESS_INTERVAL_MS)
      return
    }
    if (job.stateTimer) {
      clearTimeout(job.stateTimer)
      job.stateTimer = null
    }
    job.lastStateSent = now
    this.listener.onState(structuredClone(job.state))
  }
}
