/**
 * The batch job: plan the inputs, skip what an earlier run finished, run the rest on warm
 * engines (worker threads by default), record each finished item for resume, report progress,
 * honour pause and cancel, and write report.csv + report.json.
 *
 * Cancel (AbortSignal): no new item starts; items in flight stop before writing anything (or, if
 * already writing, finish: every file is temp + rename), so only whole files remain. Pause: no new
 * item starts until resumed; items in flight finish.
 */
import { promises as fs } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { UserError } from '../../core/errors'
import { probeImage } from '../../core/image'
import { defaultModelDir } from '../../engine/model-dir'
import { planBatch } from './discover'
import { defaultWorkers, startExecutor, type Executor } from './executor'
import { DEFAULT_PLACE_RULE, parsePlacement } from './placement'
import { writeReports } from './report'
import { BatchState, fingerprint, removeStaleTempFiles, settingsKey } from './state'
import type { BatchEvent, BatchOptions, BatchSummary, ItemOutcome, PlannedItem, ReportRow } from './types'

/** Pause/resume switch shared by the caller (CLI keys, the panel) and the job. */
export class PauseControl {
  private state = false
  private readonly listeners = new Set<(paused: boolean) => void>()
  get paused(): boolean {
    return this.state
  }
  pause(): void {
    this.set(true)
  }
  resume(): void {
    this.set(false)
  }
  private set(v: boolean): void {
    if (v === this.state) return
    this.state = v
    for (const l of this.listeners) l(v)
  }
  onChange(listener: (paused: boolean) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

export interface BatchControl {
  signal?: AbortSignal
  pause?: PauseControl
  onEvent?: (event: BatchEvent) => void
  /** Written into .umbra projects ("saved by Umbra X"). */
  appVersion?: string
}

function checkOptions(o: BatchOptions): void {
  if (o.quality !== undefined && !(Number.isInteger(o.quality) && o.quality >= 1 && o.quality <= 100)) {
    throw new UserError('BAD_ARGS', `the quality must be a whole number from 1 to 100, got ${o.quality}`)
  }
  if (o.workers !== undefined && !(Number.isInteger(o.workers) && o.workers >= 0 && o.workers <= 64)) {
    throw new UserError('BAD_ARGS', `the number of workers must be a whole number from 0 to 64, got ${o.workers}`)
  }
  if (o.place && !o.background) throw new UserError('BAD_ARGS', 'a placement rule needs a background photo (--background FILE)')
}

function relOut(outDir: string, path: string): string {
  return relative(outDir, path).split(sep).join('/')
}

export async function runBatch(options: BatchOptions, control: BatchControl = {}): Promise<BatchSummary> {
  const started = performance.now()
  checkOptions(options)
  const emit = (e: BatchEvent) => control.onEvent?.(e)
  const signal = control.signal
  const pause = control.pause ?? new PauseControl()
  const inDir = resolve(options.inDir)
  const outDir = resolve(options.outDir)
  const background = options.background ? resolve(options.background) : undefined
  // A bad background stops the whole batch before any work (every cut-out would fail the same way).
  if (background) await probeImage(background)
  const place = background ? (options.place ?? parsePlacement(DEFAULT_PLACE_RULE)) : undefined

  const plan = await planBatch({ ...options, inDir, outDir, background })
  await fs.mkdir(outDir, { recursive: true })
  await removeStaleTempFiles(outDir)
  const state = await BatchState.load(outDir)

  const modelDir = options.modelDir ? resolve(options.modelDir) : undefined
  const modelFp = await fingerprint(join(modelDir ?? defaultModelDir(), 'manifest.json'))
  const settings = settingsKey({
    format: options.format ?? 'same',
    quality: options.quality ?? 92,
    layers: !!options.layers,
    projects: !!options.projects,
    background: background ? { path: background, fp: await fingerprint(background) } : null,
    place: place ?? null,
    model: { dir: modelDir ?? 'default', fp: modelFp },
  })

  const rows = new Map<string, ReportRow>()
  for (const o of plan.other) rows.set(o.rel, { input: o.rel, kind: o.kind, status: o.status, reason: o.reason, outputs: [] })
  const toProcess: PlannedItem[] = []
  for (const item of plan.items) {
    if (!options.force && (await state.isDone(item, settings))) {
      rows.set(item.rel, { input: item.rel, kind: item.kind, status: 'skipped', reason: 'already done by an earlier run (--force redoes it)', outputs: Object.values(item.outputs).map((p) => relOut(outDir, p)) })
    } else {
      toProcess.push(item)
    }
  }
  const count = (s: ReportRow['status']) => [...rows.values()].filter((r) => r.status === s).length
  emit({ type: 'planned', total: plan.items.length + plan.other.length, toProcess: toProcess.length, alreadyDone: plan.items.length - toProcess.length, skipped: count('skipped'), failed: count('failed') })
  // Inputs settled by planning (junk, missing masks, already done) are listed before any work.
  for (const row of rows.values()) emit({ type: 'item', row })

  let executor: Executor | null = null
  let runtime = 'none'
  let workers = 0
  let processed = 0
  let doneCount = 0
  let failedCount = 0
  let cancelled = false
  let processingStart = performance.now()
  let pausedMs = 0
  try {
    if (toProcess.length && !signal?.aborted) {
      // No more workers (engines to load) than images to process.
      workers = Math.min(options.workers ?? defaultWorkers(), toProcess.length)
      const threads = options.threadsPerEngine ?? Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers)))
      executor = await startExecutor({
        workers,
        inFlight: options.inFlight ?? 2,
        config: {
          engine: { modelDir, runtime: options.runtime ?? 'auto', threads },
          sharpConcurrency: options.sharpConcurrency ?? (workers > 1 ? 1 : undefined),
          crashOn: options.testCrashOn,
          processor: {
            quality: options.quality,
            layers: options.layers,
            projects: options.projects,
            background,
            place,
            thumbnailSize: options.thumbnailSize,
            appVersion: control.appVersion ?? '0.0.0',
          },
        },
      })
      runtime = executor.runtime
      emit({ type: 'engine', runtime: executor.runtime, detail: executor.detail, workers })
      processingStart = performance.now()
      const ex = executor

      const activeSeconds = () => (performance.now() - processingStart - pausedMs - (pausedAt !== null ? performance.now() - pausedAt : 0)) / 1000
      let pausedAt: number | null = pause.paused ? performance.now() : null
      const queue = [...toProcess]
      let inFlight = 0

      const onOutcome = async (item: PlannedItem, outcome: ItemOutcome, fp: { input: { size: number; mtimeMs: number }; mask?: { size: number; mtimeMs: number } } | null) => {
        let row: ReportRow
        if (outcome.cancelled) {
          row = { input: item.rel, kind: item.kind, status: 'skipped', reason: 'cancelled before it finished', outputs: [] }
        } else if (outcome.ok) {
          processed++
          doneCount++
          row = { input: item.rel, kind: item.kind, status: 'done', reason: outcome.warnings.join('; '), outputs: Object.values(item.outputs).map((p) => relOut(outDir, p)), width: outcome.width, height: outcome.height, timings: outcome.timings }
          if (fp) await state.markDone(item, settings, fp)
        } else {
          processed++
          failedCount++
          row = { input: item.rel, kind: item.kind, status: 'failed', reason: outcome.reason ?? 'failed', outputs: [] }
          state.forget(item.rel)
        }
        rows.set(item.rel, row)
        emit({ type: 'item', row, index: item.index, thumbnail: outcome.thumbnail })
        const secs = activeSeconds()
        const rate = processed > 0 && secs > 0 ? processed / secs : 0
        emit({
          type: 'progress',
          processed,
          toProcess: toProcess.length,
          done: doneCount,
          failed: failedCount,
          elapsedSeconds: secs,
          etaSeconds: rate > 0 ? (toProcess.length - processed) / rate : null,
          imagesPerMinute: rate * 60,
        })
      }

      await new Promise<void>((resolveAll) => {
        let finished = false
        const pump = () => {
          if (finished) return
          const stopping = cancelled || signal?.aborted
          while (!stopping && !pause.paused && queue.length && ex.free() > 0) {
            const item = queue.shift() as PlannedItem
            inFlight++
            // submit() takes its slot at once (free() drops before the next loop turn).
            const outcome = ex.submit(item)
            void (async () => {
              const [input, mask] = await Promise.all([fingerprint(item.input), item.mask ? fingerprint(item.mask) : Promise.resolve(null)])
              await onOutcome(item, await outcome, input ? { input, mask: mask ?? undefined } : null)
            })()
              .catch((err) => console.error('umbra batch: internal error:', err))
              .finally(() => {
                inFlight--
                pump()
              })
          }
          if (inFlight === 0 && (queue.length === 0 || stopping)) {
            finished = true
            offPause()
            signal?.removeEventListener('abort', onAbort)
            resolveAll()
          }
        }
        const onAbort = () => {
          cancelled = true
          ex.cancel()
          pump()
        }
        const offPause = pause.onChange((paused) => {
          if (paused) pausedAt = performance.now()
          else if (pausedAt !== null) {
            pausedMs += performance.now() - pausedAt
            pausedAt = null
          }
          emit({ type: 'paused', paused })
          pump()
        })
        signal?.addEventListener('abort', onAbort)
        ex.onCapacity?.(pump)
        if (signal?.aborted) cancelled = true
        pump()
      })
      for (const item of queue) {
        rows.set(item.rel, { input: item.rel, kind: item.kind, status: 'skipped', reason: 'cancelled before it started', outputs: [] })
      }
    } else if (signal?.aborted) {
      cancelled = true
      for (const item of toProcess) rows.set(item.rel, { input: item.rel, kind: item.kind, status: 'skipped', reason: 'cancelled before it started', outputs: [] })
    }
  } finally {
    await executor?.close()
    await state.flush()
  }

  const processingSeconds = (performance.now() - processingStart - pausedMs) / 1000
  const sorted = [...rows.values()].sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0))
  const base = {
    total: sorted.length,
    done: sorted.filter((r) => r.status === 'done').length,
    skipped: sorted.filter((r) => r.status === 'skipped').length,
    failed: sorted.filter((r) => r.status === 'failed').length,
    cancelled,
    processed,
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    imagesPerMinute: processed > 0 && processingSeconds > 0 ? Math.round((processed / processingSeconds) * 60 * 10) / 10 : 0,
    runtime,
    workers,
  }
  const { csv, json } = await writeReports(outDir, sorted, base)
  const summary: BatchSummary = { ...base, reportCsv: csv, reportJson: json }
  emit({ type: 'finished', summary })
  return summary
}
