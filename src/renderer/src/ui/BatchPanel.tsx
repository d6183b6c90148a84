import { useEffect, useRef, useState } from 'react'
import { batchSettingsFrom, type BatchJobState, type BatchRow, type BatchSettings } from '../../../shared/batch'
import { errorMessage } from '../api/client'
import { useEditor, useEditorState, usePanelSettings } from '../editor/context'

/**
 * The Batch panel (issue 6): shadows for a whole folder while the editor stays usable (the job
 * runs in its own thread on the Node side). Folders and options are remembered in the settings
 * (the Node side saves them when a batch starts); progress arrives as batch.state / batch.item events.
 */

/** Rows kept on screen (newest last); the report on disk has them all. */
const MAX_ROWS = 1000
/** Only the newest results get a thumbnail. */
const THUMBNAIL_ROWS = 24

function formatEta(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs)) return '--'
  const s = Math.round(secs)
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

function percentOf(job: BatchJobState | null): number {
  if (!job) return 0
  const p = job.progress
  // Nothing left to process (all done before, or only junk): complete once the folder is planned.
  if (p.toProcess === 0) return job.state === 'starting' || job.state === 'failed' ? 0 : 100
  return Math.min(100, Math.floor((100 * p.processed) / p.toProcess))
}

const ACTIVE = new Set(['starting', 'running', 'paused', 'cancelling'])

export function BatchPanel() {
  const { api, store } = useEditor()
  const state = useEditorState()
  const [open, setOpen] = useState(false)
  const [job, setJob] = useState<BatchJobState | null>(null)
  const [rows, setRows] = useState<BatchRow[]>([])
  const [thumbs, setThumbs] = useState<Record<number, string>>({})
  const [error, setError] = useState<string | null>(null)
  const jobId = useRef<string | null>(null)
  const notified = useRef<string | null>(null)

  // Remembered settings (once the editor has them) until the user edits; the last folders fill in what is missing.
  const { settings, set } = usePanelSettings<BatchSettings>((saved) => {
    const s = batchSettingsFrom(saved.panels?.batch)
    return { ...s, inDir: s.inDir || saved.lastFolders.batchIn || '', outDir: s.outDir || saved.lastFolders.batchOut || '' }
  })

  useEffect(() => {
    let live = true
    void api
      .call('batch.status', {})
      .then(({ job }) => {
        if (!live || !job) return
        jobId.current = job.jobId
        setJob(job)
        if (ACTIVE.has(job.state)) setOpen(true)
      })
      .catch(() => {})
    const offState = api.on('batch.state', (s) => {
      if (s.jobId !== jobId.current) {
        jobId.current = s.jobId
        setRows([])
        setThumbs({})
      }
      setJob(s)
    })
    const offItem = api.on('batch.item', ({ jobId: id, row }) => {
      if (id !== jobId.current) return
      setRows((list) => (list.length >= MAX_ROWS ? [...list.slice(list.length - MAX_ROWS + 1), row] : [...list, row]))
    })
    return () => {
      live = false
      offState()
      offItem()
    }
  }, [api])

  // Thumbnails of the newest finished rows, fetched once each.
  const requested = useRef(new Set<string>())
  useEffect(() => {
    if (!job) return
    const id = job.jobId
    const want = rows.filter((r) => r.hasThumbnail && r.index !== undefined && !requested.current.has(`${id}:${r.index}`)).slice(-THUMBNAIL_ROWS)
    for (const r of want) {
      const index = r.index as number
      requested.current.add(`${id}:${index}`)
      void api
        .call('batch.thumbnail', { jobId: id, index })
        .then(({ bytes }) => {
          if (!bytes || jobId.current !== id) return
          const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'image/jpeg' }))
          setThumbs((t) => ({ ...t, [index]: url }))
        })
        .catch(() => {})
    }
  }, [rows, job, api])

  // A notification when a batch ends (the toast always; the system one when allowed).
  useEffect(() => {
    if (!job || ACTIVE.has(job.state) || notified.current === job.jobId) return
    notified.current = job.jobId
    const p = job.progress
    const message =
      job.state === 'failed'
        ? `Batch failed: ${job.error?.message ?? 'unknown error'}`
        : `Batch ${job.state === 'cancelled' ? 'cancelled' : 'finished'}: ${p.done} done, ${p.failed + p.failedBefore} failed, ${p.skipped} skipped`
    store.toast(job.state === 'failed' || p.failed + p.failedBefore > 0 ? 'error' : 'info', message)
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted') {
      try {
        new Notification('Umbra batch', { body: message })
      } catch {
        // some hosts refuse page notifications: the toast is enough
      }
    }
  }, [job, store])

  if (!settings) return null
  const running = !!job && ACTIVE.has(job.state)
  const native = !!state.capabilities?.nativeDialogs
  const pct = percentOf(job)

  async function start() {
    setError(null)
    try {
      if (typeof Notification !== 'undefined' && Notification.permission === 'default') void Notification.requestPermission().catch(() => {})
      setRows([])
      setThumbs({})
      const s = await api.call('batch.start', settings as BatchSettings)
      // Events may have overtaken this reply (a small batch can be finished already): keep the newer state.
      jobId.current = s.jobId
      setJob((cur) => (cur && cur.jobId === s.jobId ? cur : s))
    } catch (err) {
      setError(errorMessage(err))
    }
  }
  /** Native folder picker (Electron); in a browser the paths are typed (the server runs on this machine). */
  async function browse(purpose: 'batchIn' | 'batchOut') {
    try {
      const { path } = await api.call('dialog.openFolder', { purpose })
      if (path) set(purpose === 'batchIn' ? { inDir: path } : { outDir: path })
    } catch (err) {
      setError(errorMessage(err))
    }
  }
  async function control(action: 'pause' | 'resume' | 'cancel') {
    if (!job) return
    try {
      // The new state arrives as a batch.state event (the reply could be older than the events).
      await api.call('batch.control', { jobId: job.jobId, action })
    } catch (err) {
      setError(errorMessage(err))
    }
  }
  async function openOutput() {
    try {
      const { opened } = await api.call('batch.openFolder', { path: job?.settings.outDir ?? settings!.outDir })
      if (!opened) store.toast('info', `Output folder: ${job?.settings.outDir ?? settings!.outDir}`)
    } catch (err) {
      setError(errorMessage(err))
    }
  }

  const p = job?.progress
  return (
    <section className="panel batch" data-testid="batch-panel" aria-label="Batch">
      <div className="panel-title">
        <span>Batch</span>
        <button type="button" className="btn compact-text" data-testid="batch-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Hide' : 'Show'}
        </button>
      </div>
      {open && (
        <div className="batch-body">
          <fieldset className="batch-form" disabled={running}>
            <label>
              Mode
              <select data-testid="batch-mode" value={settings.mode} onChange={(e) => set({ mode: e.target.value as BatchSettings['mode'] })}>
                <option value="composites">Photos + masks (NAME.mask.png)</option>
                <option value="cutouts">Cut-outs on a background</option>
              </select>
            </label>
            <label>
              Input folder
              <span className="batch-path">
                <input data-testid="batch-in" value={settings.inDir} placeholder="/path/to/photos" onChange={(e) => set({ inDir: e.target.value })} />
                {native && (
                  <button type="button" className="btn" data-testid="batch-in-browse" onClick={() => void browse('batchIn')}>
                    …
                  </button>
                )}
              </span>
            </label>
            <label>
              Output folder
              <span className="batch-path">
                <input data-testid="batch-out" value={settings.outDir} placeholder="/path/to/results" onChange={(e) => set({ outDir: e.target.value })} />
                {native && (
                  <button type="button" className="btn" data-testid="batch-out-browse" onClick={() => void browse('batchOut')}>
                    …
                  </button>
                )}
              </span>
            </label>
            {settings.mode === 'cutouts' && (
              <>
                <label>
                  Background photo
                  <input data-testid="batch-background" value={settings.background} placeholder="/path/to/background.jpg" onChange={(e) => set({ background: e.target.value })} />
                </label>
                <label title="X,Y[,SCALE] or ANCHOR,height=40%,margin=5%,offset=DX:DY">
                  Placement
                  <input data-testid="batch-place" value={settings.place} onChange={(e) => set({ place: e.target.value })} />
                </label>
              </>
            )}
            <div className="batch-row2">
              <label>
                Format
                <select data-testid="batch-format" value={settings.format} onChange={(e) => set({ format: e.target.value as BatchSettings['format'] })}>
                  <option value="same">Same as input</option>
                  <option value="jpeg">JPEG</option>
                  <option value="png">PNG</option>
                </select>
              </label>
              <label>
                Quality
                <input data-testid="batch-quality" type="number" min={1} max={100} value={settings.quality} onChange={(e) => set({ quality: Math.min(100, Math.max(1, Math.round(Number(e.target.value) || 92))) })} />
              </label>
            </div>
            <div className="batch-checks">
              <label>
                <input type="checkbox" data-testid="batch-recursive" checked={settings.recursive} onChange={(e) => set({ recursive: e.target.checked })} /> Subfolders
              </label>
              <label>
                <input type="checkbox" data-testid="batch-layers" checked={settings.layers} onChange={(e) => set({ layers: e.target.checked })} /> Shadow layers
              </label>
              <label>
                <input type="checkbox" data-testid="batch-projects" checked={settings.projects} onChange={(e) => set({ projects: e.target.checked })} /> .umbra projects
              </label>
              <label>
                <input type="checkbox" data-testid="batch-force" checked={settings.force} onChange={(e) => set({ force: e.target.checked })} /> Redo finished
              </label>
            </div>
          </fieldset>
          <div className="batch-actions">
            {!running && (
              <button type="button" className="btn primary" data-testid="batch-start" onClick={() => void start()}>
                Start
              </button>
            )}
            {running && job?.state !== 'paused' && (
              <button type="button" className="btn" data-testid="batch-pause" disabled={job?.state === 'cancelling'} onClick={() => void control('pause')}>
                Pause
              </button>
            )}
            {running && job?.state === 'paused' && (
              <button type="button" className="btn" data-testid="batch-resume" onClick={() => void control('resume')}>
                Resume
              </button>
            )}
            {running && (
              <button type="button" className="btn" data-testid="batch-cancel" disabled={job?.state === 'cancelling'} onClick={() => void control('cancel')}>
                Cancel
              </button>
            )}
            <button type="button" className="btn" data-testid="batch-open-output" disabled={!(job?.settings.outDir || settings.outDir)} onClick={() => void openOutput()}>
              Open output
            </button>
          </div>
          {error && (
            <div className="batch-error" data-testid="batch-error" role="alert">
              {error}
            </div>
          )}
          {job && p && (
            <div className="batch-status" data-testid="batch-status" data-state={job.state}>
              <div className="batch-progress" data-testid="batch-progress" data-percent={pct} role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
                <div className="batch-progress-fill" style={{ width: `${pct}%` }} />
                <span>{pct}%</span>
              </div>
              <div className="batch-counts">
                <span data-testid="batch-counts">
                  {p.processed}/{p.toProcess} · {p.done} done · {p.failed + p.failedBefore} failed · {p.skipped} skipped
                </span>
                <span>
                  {job.state === 'paused' ? 'paused' : job.state === 'cancelling' ? 'cancelling…' : ACTIVE.has(job.state) ? `ETA ${formatEta(p.etaSeconds)}` : job.state}
                  {p.imagesPerMinute > 0 ? ` · ${p.imagesPerMinute.toFixed(0)}/min` : ''}
                </span>
              </div>
              {job.error && <div className="batch-error">{job.error.message}</div>}
              {job.reportCsv && <div className="batch-report muted">Report: {job.reportCsv}</div>}
            </div>
          )}
          {rows.length > 0 && (
            <ul className="batch-list" data-testid="batch-list">
              {[...rows].reverse().map((r, i) => (
                <li key={`${r.input}-${i}`} className={`batch-item ${r.status}`} data-testid="batch-row" data-status={r.status} data-input={r.input} title={r.reason || r.outputs.join(', ')}>
                  {r.index !== undefined && thumbs[r.index] ? <img className="batch-thumb" src={thumbs[r.index]} alt="" /> : <span className="batch-thumb" />}
                  <span className="batch-name">{r.input}</span>
                  <span className="batch-state">{r.status}</span>
                  {r.reason && <span className="batch-reason">{r.reason}</span>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  )
}
