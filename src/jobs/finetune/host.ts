/**
 * The app's side of fine-tune jobs: one at a time, each in its own worker thread (job-worker.ts),
 * so the editor stays responsive while it trains. Keeps the job's state for the UI (losses for the
 * chart, validation points, check report, preview version) and relays pause / cancel. Resume, also
 * after the app restarted, starts a new worker on the run folder; "save" resumes a paused run with
 * no steps left, which saves its best state as the model.
 *
 * Models go to the model store's folder: <models>/<name>, the run beside it in <models>/<name>.run.
 */
import { Worker } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { UserError } from '../../core/errors'
import type { FinetuneJobState, FinetuneSettings, PairCheckReport, ValidationPoint } from '../../shared/finetune'
import { checkModelName, type ModelStore } from '../../engine/model-store'
import { readRunState, FINETUNE_STATE_FILE } from './run-state'
import type { FinetuneWorkerData, FinetuneWorkerReply } from './job-worker'

const MAX_TRAIN_POINTS = 400
const STATE_INTERVAL_MS = 200

export interface FinetuneHostListener {
  onState(state: FinetuneJobState): void
}

interface Job {
  state: FinetuneJobState
  worker: Worker | null
  lastSent: number
  timer: NodeJS.Timeout | null
  ended: Promise<void>
  stride: number
}

function point(step: number, v: { localRmse: number; globalRmse: number; darkeningL1: number }): ValidationPoint {
  return { step, lrmse: v.localRmse, grmse: v.globalRmse, loss: v.darkeningL1 }
}

export class FinetuneJobHost {
  private job: Job | null = null

  constructor(
    private readonly store: ModelStore,
    private readonly listener: FinetuneHostListener,
  ) {}

  status(): FinetuneJobState | null {
    return this.job ? structuredClone(this.job.state) : null
  }

  private busy(): boolean {
    const s = this.job?.state.state
    return s === 'starting' || s === 'running' || s === 'pausing' || s === 'cancelling' || s === 'saving'
  }

  runDir(name: string): string {
    return join(this.store.modelsDir, `${name}.run`)
  }

  /** Runs in the models folder that can be resumed (paused, crashed, or the app closed while training). */
  async resumable(): Promise<{ name: string; step: number }[]> {
    const names = await fs.readdir(this.store.modelsDir).catch(() => [] as string[])
    const out: { name: string; step: number }[] = []
    for (const n of names.filter((x) => x.endsWith('.run')).sort()) {
      const name = n.slice(0, -4)
      if (this.job && this.job.state.modelName === name && this.busy()) continue
      const dir = join(this.store.modelsDir, n)
      const state = await readRunState(dir).catch(() => null)
      if (!state) continue
      // Finished runs (their model saved) keep their folder for the log and previews, but are done.
      if (await fs.stat(join(state.outDir, 'manifest.json')).catch(() => null)) continue
      const ckpt = await fs.readFile(join(dir, 'checkpoint', 'state.json'), 'utf8').then((t) => JSON.parse(t) as { step: number }, () => null)
      out.push({ name, step: ckpt?.step ?? 0 })
    }
    return out
  }

  /** Starts a new fine-tune (fresh run) from the settings. */
  async start(settings: FinetuneSettings, fromDir: string, baseModel: string): Promise<FinetuneJobState> {
    if (this.busy()) throw new UserError('FINETUNE_RUNNING', 'a fine-tune is already running: stop it first')
    const name = checkModelName(settings.name.trim())
    if (await fs.stat(join(this.store.modelsDir, name)).catch(() => null)) throw new UserError('MODEL_EXISTS', `a model named '${name}' already exists: choose another name`)
    const runDir = this.runDir(name)
    if (await fs.stat(join(runDir, FINETUNE_STATE_FILE)).catch(() => null)) {
      throw new UserError('RUN_EXISTS', `an unfinished fine-tune named '${name}' exists: resume it, or choose another name`)
    }
    // A run folder without its state file is a start that never got going: start over.
    await fs.rm(runDir, { recursive: true, force: true })
    return this.launch(settings, name, baseModel, {
      pairsDir: settings.pairsDir,
      outDir: join(this.store.modelsDir, name),
      runDir,
      fromModelDir: fromDir,
      name,
      steps: settings.steps,
      batch: settings.batch,
      lr: settings.lr,
      lrD: 1e-5,
      resume: false,
      valFraction: 0.2,
      validateEverySteps: settings.validateEvery,
      patience: 4,
      ganStartStep: Math.min(50, Math.floor(settings.steps / 10)),
      checkpointEverySeconds: 120,
      seed: 1,
      maxSeconds: settings.minutes * 60,
    })
  }

  /** Continues a run (after a pause or a restart); `saveNow` stops at its current step and saves the model. */
  async resume(name: string, opts: { saveNow?: boolean; settings?: FinetuneSettings } = {}): Promise<FinetuneJobState> {
    if (this.busy()) throw new UserError('FINETUNE_RUNNING', 'a fine-tune is already running: stop it first')
    const runDir = this.runDir(checkModelName(name))
    const run = await readRunState(runDir)
    if (!run) throw new UserError('NO_RUN', `there is no fine-tune named '${name}' to resume`)
    const ckpt = await fs.readFile(join(runDir, 'checkpoint', 'state.json'), 'utf8').then((t) => JSON.parse(t) as { step: number }, () => null)
    const prev = this.job?.state.modelName === name ? this.job.state : null
    const settings: FinetuneSettings = opts.settings ?? prev?.settings ?? { pairsDir: run.pairsDir, name, from: '', steps: run.steps ?? 600, batch: run.batch, lr: run.lr, validateEvery: 50, minutes: 0 }
    const steps = opts.saveNow ? (ckpt?.step ?? 0) : settings.steps
    if (opts.saveNow && !ckpt) throw new UserError('NOTHING_TO_SAVE', 'this fine-tune has no checkpoint yet: nothing to save')
    return this.launch(
      settings,
      name,
      run.baseModel,
      {
        pairsDir: run.pairsDir,
        outDir: run.outDir,
        runDir,
        fromModelDir: run.fromModelDir,
        name,
        steps: Math.max(1, steps),
        batch: run.batch,
        lr: run.lr,
        lrD: 1e-5,
        resume: true,
        valFraction: 0.2,
        validateEverySteps: settings.validateEvery,
        patience: 4,
        ganStartStep: Math.min(50, Math.floor(settings.steps / 10)),
        checkpointEverySeconds: 120,
        seed: 1,
        maxSeconds: opts.saveNow ? 0 : settings.minutes * 60,
      },
      prev,
      opts.saveNow,
    )
  }

  control(jobId: string, action: 'pause' | 'cancel'): FinetuneJobState {
    const job = this.job
    if (!job || job.state.jobId !== jobId) throw new UserError('NO_JOB', 'that fine-tune is no longer running')
    if (action === 'cancel' && job.state.state === 'paused') {
      // Nothing runs: cancelling a paused job just removes its run folder.
      job.state.state = 'cancelling'
      this.send(job, true)
      void fs.rm(this.runDir(job.state.modelName), { recursive: true, force: true }).then(() => {
        job.state.state = 'cancelled'
        this.send(job, true)
      })
      return structuredClone(job.state)
    }
    if (!job.worker || !this.busy()) throw new UserError('NOT_RUNNING', `the fine-tune is ${job.state.state}`)
    job.worker.postMessage({ type: action })
    job.state.state = action === 'pause' ? 'pausing' : 'cancelling'
    this.send(job, true)
    return structuredClone(job.state)
  }

  private launch(settings: FinetuneSettings, name: string, baseModel: string | null, data: FinetuneWorkerData, prev: FinetuneJobState | null = null, saving = false): FinetuneJobState {
    const jobId = `finetune-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
    const state: FinetuneJobState = {
      jobId,
      state: saving ? 'saving' : 'starting',
      settings,
      modelName: name,
      baseModel,
      step: prev?.step ?? 0,
      totalSteps: data.steps,
      etaSeconds: null,
      stepsPerSecond: 0,
      train: prev?.train ?? [],
      val: prev?.val ?? [],
      before: prev?.before ?? null,
      after: null,
      report: prev?.report ?? null,
      previewVersion: prev?.previewVersion ?? 0,
      outcome: null,
      warnings: [],
      error: null,
    }
    const worker = new Worker(new URL('./job-worker-entry.mjs', import.meta.url), { workerData: data })
    worker.unref()
    let resolveEnded: () => void = () => {}
    const job: Job = { state, worker, lastSent: 0, timer: null, ended: new Promise((r) => (resolveEnded = r)), stride: 1 }
    this.job = job
    let settled = false
    const end = (patch: Partial<FinetuneJobState>) => {
      if (settled) return
      settled = true
      Object.assign(job.state, patch)
      job.worker = null
      this.send(job, true)
      void worker.terminate()
      resolveEnded()
    }
    worker.on('message', (m: FinetuneWorkerReply) => {
      if (m.type === 'event') this.onEvent(job, m.event)
      else if (m.type === 'end') {
        const r = m.result
        const outcome = r.status
        end({
          state: r.status === 'paused' ? 'paused' : r.status === 'cancelled' ? 'cancelled' : 'finished',
          outcome,
          step: r.lastStep,
          after: r.after ? point(r.savedStep, r.after) : null,
          before: r.before ? point(0, r.before) : job.state.before,
          warnings: r.warnings,
          etaSeconds: null,
        })
      } else if (m.type === 'error') {
        end({ state: 'failed', error: { code: m.code, message: m.message } })
      }
    })
    worker.on('error', (err) => end({ state: 'failed', error: { code: 'INTERNAL', message: `the fine-tune stopped unexpectedly: ${err.message}` } }))
    worker.on('exit', (code) => end({ state: 'failed', error: { code: 'INTERNAL', message: `the fine-tune worker exited (code ${code}); resume it to continue from its last checkpoint` } }))
    this.send(job, true)
    return structuredClone(state)
  }

  private onEvent(job: Job, e: import('./job').FinetuneEvent): void {
    const s = job.state
    switch (e.type) {
      case 'checked':
        s.report = e.report as PairCheckReport
        break
      case 'started':
        if (s.state === 'starting') s.state = 'running'
        s.step = e.step
        s.totalSteps = e.totalSteps
        if (e.before) s.before = point(0, e.before)
        // A resumed run keeps the curves it had; a fresh one starts empty.
        if (!e.resumed) {
          s.train = []
          s.val = []
        }
        break
      case 'step':
        s.step = e.step
        s.etaSeconds = e.etaSeconds
        s.stepsPerSecond = e.msPerStep > 0 ? 1000 / e.msPerStep : 0
        if (e.step % job.stride === 0) {
          s.train.push({ step: e.step, loss: e.losses.total })
          if (s.train.length > MAX_TRAIN_POINTS) {
            // Thin to every other point, and keep sampling at the new stride.
            s.train = s.train.filter((_, i) => i % 2 === 1)
            job.stride *= 2
          }
        }
        break
      case 'validation':
        s.val.push(point(e.step, e.val))
        this.send(job, true)
        return
      case 'checkpoint':
        s.previewVersion++
        this.send(job, true)
        return
      case 'log':
        return
    }
    this.send(job, false)
  }

  private send(job: Job, now: boolean): void {
    if (this.job !== job) return
    const due = Date.now() - job.lastSent >= STATE_INTERVAL_MS
    if (now || due) {
      if (job.timer) clearTimeout(job.timer)
      job.timer = null
      job.lastSent = Date.now()
      this.listener.onState(structuredClone(job.state))
    } else if (!job.timer) {
      job.timer = setTimeout(() => {
        job.timer = null
        job.lastSent = Date.now()
        if (this.job === job) this.listener.onState(structuredClone(job.state))
      }, STATE_INTERVAL_MS)
    }
  }

  /** The run's current preview sheet (previews/latest.png), or null before the first one. */
  async preview(jobId: string): Promise<Uint8Array | null> {
    if (!this.job || this.job.state.jobId !== jobId) return null
    return fs.readFile(join(this.runDir(this.job.state.modelName), 'previews', 'latest.png')).then(
      (b) => new Uint8Array(b),
      () => null,
    )
  }

  /** Waits for the current job's worker to end (tests, shutdown). */
  async settle(): Promise<void> {
    await this.job?.ended
  }
}
