import { useEffect, useRef, useState } from 'react'
import { finetuneSettingsFrom, type FinetuneJobState, type FinetuneSettings, type ModelList, type PairCheckReport } from '../../../shared/finetune'
import { errorMessage } from '../api/client'
import { useEditor, usePanelSettings } from '../editor/context'

/**
 * The Fine-tune panel (issue 7): teach a model the studio's own look from a folder of pairs.
 * Check the pairs, start (training runs in its own thread on the Node side), watch the training
 * loss and validation LRMSE and the preview sheet refresh, stop (pause) / resume / save, and switch
 * the editor to the new model. Settings are remembered under panels.finetune.
 */

const ACTIVE = new Set(['starting', 'running', 'pausing', 'cancelling', 'saving'])

function formatEta(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs)) return '--'
  const s = Math.round(secs)
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/** Training loss (left scale) and validation LRMSE (right scale) against the step. */
function LossChart({ job }: { job: FinetuneJobState }) {
  const W = 260
  const H = 110
  const pad = 4
  const maxStep = Math.max(1, job.totalSteps, ...job.train.map((p) => p.step), ...job.val.map((p) => p.step))
  const x = (step: number) => pad + ((W - 2 * pad) * step) / maxStep
  const line = (pts: { step: number; v: number }[]) => {
    if (pts.length === 0) return ''
    const lo = Math.min(...pts.map((p) => p.v))
    const hi = Math.max(...pts.map((p) => p.v))
    const span = hi - lo || Math.abs(hi) || 1
    return pts.map((p) => `${x(p.step).toFixed(1)},${(H - pad - ((H - 2 * pad) * (p.v - lo)) / span).toFixed(1)}`).join(' ')
  }
  const valPts = [...(job.before ? [{ step: 0, v: job.before.lrmse }] : []), ...job.val.map((p) => ({ step: p.step, v: p.lrmse }))]
  const lastTrain = job.train.at(-1)
  const lastVal = job.val.at(-1)
  return (
    <div className="finetune-chart-box">
      <svg className="finetune-chart" data-testid="finetune-chart" data-train-points={job.train.length} data-val-points={job.val.length} width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label="training and validation loss">
        <rect x={0} y={0} width={W} height={H} className="finetune-chart-bg" />
        <polyline points={line(job.train.map((p) => ({ step: p.step, v: p.loss })))} className="finetune-line-train" fill="none" />
        <polyline points={line(valPts)} className="finetune-line-val" fill="none" />
        {valPts.length === 1 && <circle cx={x(valPts[0].step)} cy={H / 2} r={2.5} className="finetune-dot-val" />}
      </svg>
      <div className="finetune-legend">
        <span className="train">training loss {lastTrain ? lastTrain.loss.toFixed(3) : '-'}</span>
        <span className="val">validation LRMSE {lastVal ? lastVal.lrmse.toFixed(1) : job.before ? job.before.lrmse.toFixed(1) : '-'}</span>
      </div>
    </div>
  )
}

export function FinetunePanel() {
  const { api, store } = useEditor()
  const [open, setOpen] = useState(false)
  const [job, setJob] = useState<FinetuneJobState | null>(null)
  const [report, setReport] = useState<PairCheckReport | null>(null)
  const [models, setModels] = useState<ModelList | null>(null)
  const [resumable, setResumable] = useState<{ name: string; step: number }[]>([])
  const [preview, setPreview] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [checking, setChecking] = useState(false)
  const jobId = useRef<string | null>(null)

  const { settings, set } = usePanelSettings<FinetuneSettings>((saved) => {
    const s = finetuneSettingsFrom(saved.panels?.finetune)
    return { ...s, pairsDir: s.pairsDir || saved.lastFolders.pairs || '' }
  })

  const endedFor = useRef<string | null>(null)
  useEffect(() => {
    let live = true
    const loadLists = () => {
      void api
        .call('models.list', {})
        .then((m) => live && setModels(m))
        .catch(() => {})
      void api
        .call('finetune.status', {})
        .then((s) => live && setResumable(s.resumable))
        .catch(() => {})
    }
    void api
      .call('finetune.status', {})
      .then(({ job, resumable }) => {
        if (!live) return
        setResumable(resumable)
        if (!job) return
        jobId.current = job.jobId
        endedFor.current = `${job.jobId}:${job.state}`
        setJob(job)
        if (ACTIVE.has(job.state)) setOpen(true)
      })
      .catch(() => {})
    void api
      .call('models.list', {})
      .then((m) => live && setModels(m))
      .catch(() => {})
    const off = api.on('finetune.state', (s) => {
      jobId.current = s.jobId
      setJob(s)
      // When a job ends: the model list and the resumable runs change; say so.
      const key = `${s.jobId}:${s.state}`
      if (ACTIVE.has(s.state) || endedFor.current === key) return
      endedFor.current = key
      loadLists()
      if (s.state === 'finished') store.toast('info', `Fine-tune finished: model '${s.modelName}' saved${s.after && s.before ? ` (validation LRMSE ${s.before.lrmse.toFixed(1)} → ${s.after.lrmse.toFixed(1)})` : ''}`)
      else if (s.state === 'failed') store.toast('error', `Fine-tune failed: ${s.error?.message ?? 'unknown error'}`)
    })
    return () => {
      live = false
      off()
    }
  }, [api, store])

  // The preview sheet is refetched whenever the run rewrites it.
  const previewVersion = job?.previewVersion ?? 0
  const previewJob = job?.jobId ?? null
  useEffect(() => {
    if (!previewJob || previewVersion === 0) return
    let live = true
    void api
      .call('finetune.preview', { jobId: previewJob })
      .then(({ bytes }) => {
        if (!live || !bytes) return
        const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'image/png' }))
        setPreview((old) => {
          if (old) URL.revokeObjectURL(old)
          return url
        })
      })
      .catch(() => {})
    return () => {
      live = false
    }
  }, [previewVersion, previewJob, api])

  if (!settings) return null
  const running = !!job && ACTIVE.has(job.state)
  const shownReport = job?.report ?? report

  async function guarded(fn: () => Promise<void>) {
    setError(null)
    try {
      await fn()
    } catch (err) {
      setError(errorMessage(err))
    }
  }
  const check = () =>
    guarded(async () => {
      setChecking(true)
      try {
        setReport(await api.call('finetune.check', { pairsDir: settings.pairsDir }))
      } finally {
        setChecking(false)
      }
    })
  const start = () =>
    guarded(async () => {
      const s = await api.call('finetune.start', settings)
      jobId.current = s.jobId
      setJob((cur) => (cur && cur.jobId === s.jobId ? cur : s))
    })
  const control = (action: 'pause' | 'cancel') => guarded(async () => void (await api.call('finetune.control', { jobId: job!.jobId, action })))
  const resume = (name: string, save: boolean) =>
    guarded(async () => {
      const s = await api.call('finetune.resume', { name, save })
      jobId.current = s.jobId
      setJob((cur) => (cur && cur.jobId === s.jobId ? cur : s))
    })
  const use = (name: string) =>
    guarded(async () => {
      setModels(await api.call('models.use', { name }))
      store.toast('info', `The editor now uses the model '${name}'`)
    })

  const activeName = models?.active ?? 'default'
  return (
    <section className="panel batch finetune" data-testid="finetune-panel" aria-label="Fine-tune">
      <div className="panel-title">
        <span>Fine-tune</span>
        <button type="button" className="btn compact-text" data-testid="finetune-toggle" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? 'Hide' : 'Show'}
        </button>
      </div>
      {open && (
        <div className="batch-body">
          <fieldset className="batch-form" disabled={running}>
            <label>
              Pairs folder
              <input data-testid="finetune-pairs" value={settings.pairsDir} placeholder="/path/to/pairs" onChange={(e) => set({ pairsDir: e.target.value })} />
            </label>
            <div className="batch-row2 finetune-row2">
              <label>
                New model name
                <input data-testid="finetune-name" value={settings.name} placeholder="studio-look" onChange={(e) => set({ name: e.target.value })} />
              </label>
              <label>
                Start from
                <select data-testid="finetune-from" value={settings.from} onChange={(e) => set({ from: e.target.value })}>
                  <option value="">active ({activeName})</option>
                  {models?.models
                    .filter((m) => !m.problem)
                    .map((m) => (
                      <option key={m.name} value={m.name}>
                        {m.name}
                      </option>
                    ))}
                </select>
              </label>
            </div>
            <div className="finetune-numbers">
              <label>
                Steps
                <input data-testid="finetune-steps" type="number" min={1} value={settings.steps} onChange={(e) => set({ steps: Math.max(1, Math.round(Number(e.target.value) || 1)) })} />
              </label>
              <label>
                Batch
                <input data-testid="finetune-batch" type="number" min={1} max={64} value={settings.batch} onChange={(e) => set({ batch: Math.min(64, Math.max(1, Math.round(Number(e.target.value) || 1))) })} />
              </label>
              <label>
                Learning rate
                <input data-testid="finetune-lr" value={String(settings.lr)} onChange={(e) => Number(e.target.value) > 0 && set({ lr: Math.min(0.1, Number(e.target.value)) })} />
              </label>
              <label>
                Validate every
                <input data-testid="finetune-validate-every" type="number" min={1} value={settings.validateEvery} onChange={(e) => set({ validateEvery: Math.max(1, Math.round(Number(e.target.value) || 1)) })} />
              </label>
            </div>
          </fieldset>
          <div className="batch-actions">
            {!running && (
              <button type="button" className="btn" data-testid="finetune-check" disabled={checking} onClick={() => void check()}>
                {checking ? 'Checking…' : 'Check pairs'}
              </button>
            )}
            {!running && (
              <button type="button" className="btn primary" data-testid="finetune-start" onClick={() => void start()}>
                Start
              </button>
            )}
            {running && job?.state !== 'saving' && (
              <button type="button" className="btn" data-testid="finetune-stop" disabled={job?.state !== 'running' && job?.state !== 'starting'} onClick={() => void control('pause')}>
                Stop
              </button>
            )}
            {job?.state === 'paused' && (
              <>
                <button type="button" className="btn" data-testid="finetune-resume" onClick={() => void resume(job.modelName, false)}>
                  Resume
                </button>
                <button type="button" className="btn primary" data-testid="finetune-save" onClick={() => void resume(job.modelName, true)}>
                  Save model
                </button>
              </>
            )}
            {(running || job?.state === 'paused') && (
              <button type="button" className="btn" data-testid="finetune-cancel" disabled={job?.state === 'cancelling' || job?.state === 'saving'} onClick={() => void control('cancel')}>
                Cancel
              </button>
            )}
            {job?.state === 'finished' && (
              <button type="button" className="btn primary" data-testid="finetune-use" disabled={activeName === job.modelName} onClick={() => void use(job.modelName)}>
                {activeName === job.modelName ? 'In use' : 'Use in editor'}
              </button>
            )}
          </div>
          {error && (
            <div className="batch-error" data-testid="finetune-error" role="alert">
              {error}
            </div>
          )}
          {shownReport && (
            <div className="finetune-report" data-testid="finetune-report" data-accepted={shownReport.accepted.length} data-rejected={shownReport.rejected.length}>
              <div>
                {shownReport.accepted.length} pair(s) usable, {shownReport.rejected.length} rejected
                {shownReport.derivedObjectShadow > 0 ? ` · shadow mask derived for ${shownReport.derivedObjectShadow}` : ''}
                {shownReport.unknownOccluders > 0 ? ` · occluder masks unknown for ${shownReport.unknownOccluders} (left out of the loss)` : ''}
              </div>
              {shownReport.rejected.length > 0 && (
                <ul className="finetune-rejected">
                  {shownReport.rejected.map((r) => (
                    <li key={r.id} data-testid="finetune-rejected" data-id={r.id} title={r.where}>
                      <b>{r.id}</b>: {r.reasons.join('; ')}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {job && (
            <div className="batch-status" data-testid="finetune-status" data-state={job.state} data-step={job.step}>
              <div className="batch-counts">
                <span>
                  {job.state === 'finished' ? `saved '${job.modelName}' (${job.outcome === 'stopped-early' ? 'stopped early' : job.outcome === 'time-limit' ? 'time limit' : 'finished'})` : job.state} · step {job.step}/{job.totalSteps}
                </span>
                {running && (
                  <span>
                    {job.stepsPerSecond > 0 ? `${job.stepsPerSecond.toFixed(2)} steps/s · ` : ''}ETA {formatEta(job.etaSeconds)}
                  </span>
                )}
              </div>
              <LossChart job={job} />
              {preview && <img className="finetune-preview" data-testid="finetune-preview" data-version={previewVersion} src={preview} alt="validation previews: input, model, target" />}
              {job.before && job.after && (
                <table className="finetune-result" data-testid="finetune-result">
                  <thead>
                    <tr>
                      <th />
                      <th>base</th>
                      <th>fine-tuned</th>
                    </tr>
                  </thead>
                  <tbody>
                    <tr>
                      <td>LRMSE</td>
                      <td>{job.before.lrmse.toFixed(2)}</td>
                      <td>{job.after.lrmse.toFixed(2)}</td>
                    </tr>
                    <tr>
                      <td>GRMSE</td>
                      <td>{job.before.grmse.toFixed(2)}</td>
                      <td>{job.after.grmse.toFixed(2)}</td>
                    </tr>
                  </tbody>
                </table>
              )}
              {job.warnings.map((w) => (
                <div key={w} className="muted finetune-warning">
                  {w}
                </div>
              ))}
              {job.error && <div className="batch-error">{job.error.message}</div>}
            </div>
          )}
          {!running && resumable.length > 0 && (
            <div className="finetune-resumable">
              {resumable.map((r) => (
                <div key={r.name} className="finetune-run">
                  <span>
                    unfinished: {r.name} (step {r.step})
                  </span>
                  <button type="button" className="btn compact-text" data-testid="finetune-resume-run" data-name={r.name} onClick={() => void resume(r.name, false)}>
                    Resume
                  </button>
                </div>
              ))}
            </div>
          )}
          {models && (
            <ul className="finetune-models" data-testid="finetune-models">
              {models.models.map((m) => (
                <li key={m.name} data-testid="model-row" data-name={m.name} data-active={m.active ? 'true' : 'false'} title={m.problem ?? ''}>
                  <span className="name">
                    {m.active ? '● ' : ''}
                    {m.name}
                  </span>
                  <span className="muted">{m.problem ? 'unusable' : m.builtin ? 'shipped' : m.baseModel ? `from ${m.baseModel}` : ''}</span>
                  <button type="button" className="btn compact-text" data-testid={`model-use-${m.name}`} disabled={m.active || !!m.problem} onClick={() => void use(m.name)}>
                    Use
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  )
}
