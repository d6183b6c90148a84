import { useEffect, useRef, useState } from 'react'
import type { ShadowLayer } from '../../../shared/project'
import { currentLight, describeLightOrigin, normAngle, shadowEdits, shadowIsStale } from '../../../shared/shadow'
import { useEditor, useEditorState } from '../editor/context'
import { ActionButton } from '../ui/ActionButton'
import { cancelGeneration, editShadow, selectedShadow, steerLight, targetObject, watchStaleShadows } from './actions'
import { shadowView, useShadowView, type ShadowBrush } from './state'

/**
 * The Shadow panel: generate / regenerate, the engine's status and progress, the selected
 * shadow's edits (each change is one undo step: sliders commit when released), light control,
 * attention maps and brushes, compare, and the auto-regenerate preference.
 */
export function ShadowPanel() {
  const { store, api } = useEditor()
  const state = useEditorState()
  const view = useShadowView()
  const c = state.composition
  const shadow = selectedShadow(c, state.selection)
  const object = targetObject(c, state.selection)
  const stale = shadow && object ? shadowIsStale(shadow, object) : false
  const savedAuto = !!(state.settings?.panels?.shadow as { autoRegenerate?: boolean } | undefined)?.autoRegenerate
  // Shown at once; the settings round trip follows.
  const [pendingAuto, setPendingAuto] = useState<boolean | null>(null)
  const auto = pendingAuto ?? savedAuto

  const { canvas, run } = useEditor()
  useEffect(() => {
    ;(window as unknown as { __umbraShadow: unknown }).__umbraShadow = shadowView
    return watchStaleShadows(store, api, canvas)
  }, [store, api, canvas])

  useEffect(() => {
    const offProgress = api.on('engine.progress', (p) => {
      const g = shadowView.get().generating
      if (g && g.requestId === p.requestId) shadowView.set({ generating: { ...g, fraction: p.fraction ?? g.fraction, label: p.message ? `${p.message}…` : g.label } })
    })
    const offStatus = api.on('engine.status', (s) => {
      shadowView.set({ engine: s })
      if (s.state === 'crashed' && s.message) store.toast('error', s.message)
    })
    return () => {
      offProgress()
      offStatus()
    }
  }, [api, store])

  const setAuto = async (on: boolean) => {
    setPendingAuto(on)
    try {
      const settings = await api.call('settings.update', { panels: { ...(state.settings?.panels ?? {}), shadow: { autoRegenerate: on } } })
      store.set({ settings })
    } finally {
      setPendingAuto(null)
    }
  }

  return (
    <section className="panel shadow-panel" data-testid="shadow-panel">
      <div className="panel-title">Shadow</div>
      <div className="prop-buttons">
        <ActionButton action="generateShadow" icon="shadow" testId="generate-shadow-panel" label={shadow ? 'Regenerate' : 'Generate shadow'} />
        <ActionButton action="generateAllShadows" testId="generate-all-shadows" label="All objects" />
      </div>
      {view.generating && (
        <div className="shadow-progress" data-testid="shadow-progress">
          <progress max={1} value={view.generating.fraction} />
          <span>{view.generating.label}</span>
          <button type="button" className="btn" data-testid="shadow-cancel" onClick={() => void cancelGeneration(api)}>
            Cancel
          </button>
        </div>
      )}
      <div className="muted small" data-testid="engine-status">
        {engineLine(view.engine)}
        {view.lastClickToScreenMs !== null && ` · last: ${Math.round(view.lastClickToScreenMs)} ms`}
      </div>
      {stale && shadow && (
        <div className="shadow-stale" data-testid="shadow-stale">
          The object moved since this shadow was generated.{' '}
          <button type="button" className="btn" data-testid="shadow-regenerate-stale" onClick={() => void runGenerate()}>
            Regenerate
          </button>
        </div>
      )}
      <label className="check">
        <input type="checkbox" data-testid="shadow-auto-regenerate" checked={auto} onChange={(e) => void setAuto(e.target.checked)} /> Regenerate automatically when an object moves
      </label>
      {shadow ? <ShadowEditor key={shadow.id} shadow={shadow} /> : <div className="panel-empty">Select a cut-out, then Generate shadow (G).</div>}
    </section>
  )

  function runGenerate() {
    run('generateShadow')
  }
}

function engineLine(s: ReturnType<typeof shadowView.get>['engine']): string {
  if (!s) return 'Engine: starts on first use'
  if (s.state === 'ready') return `Engine: ${s.runtime} on ${s.backend} · ${s.modelName ?? ''}`
  if (s.state === 'crashed') return 'Engine: crashed, restarts on the next request'
  if (s.state === 'unavailable') return `Engine unavailable: ${s.message ?? ''}`
  return `Engine: ${s.state}`
}

function ShadowEditor({ shadow }: { shadow: ShadowLayer }) {
  const { store } = useEditor()
  const view = useShadowView()
  const e = shadowEdits(shadow.edits)
  const light = shadow.source ? currentLight(shadow.source) : null
  const lightOrigin = shadow.source ? describeLightOrigin(shadow.source) : null
  const setEdits = (patch: Partial<NonNullable<ShadowLayer['edits']>>) => editShadow(store, shadow.id, (l) => ({ ...l, edits: { ...l.edits, ...patch } }))
  const brush = (b: ShadowBrush) => shadowView.set({ brush: view.brush === b ? null : b, attention: b === 'occluders' || b === 'occluderShadows' || b === 'clearAttention' ? true : view.attention })
  return (
    <div className="shadow-editor">
      <div className="muted small" data-testid="shadow-source">
        {shadow.name}
        {shadow.source?.backend ? ` · ${shadow.source.backend}` : ''}
      </div>
      <Slider label="Opacity" testId="shadow-opacity" min={0} max={1} step={0.01} value={shadow.opacity} onCommit={(v) => editShadow(store, shadow.id, (l) => ({ ...l, opacity: v }))} />
      <Slider label="Density" testId="shadow-density" min={0} max={3} step={0.05} value={e.density} onCommit={(v) => setEdits({ density: v })} />
      <Slider label="Softness" testId="shadow-softness" min={0} max={200} step={1} value={e.softness} onCommit={(v) => setEdits({ softness: v })} />
      <Slider label="Skew" testId="shadow-skew" min={-60} max={60} step={1} value={e.skewX} onCommit={(v) => setEdits({ skewX: v })} />
      <label className="field">
        <span>Tint</span>
        <TintInput value={e.tint} onCommit={(tint) => setEdits({ tint })} />
      </label>
      {shadow.source && (
        <>
          <div className="panel-subtitle">Light</div>
          {lightOrigin && (
            <div className="muted small" data-testid="light-origin">
              {lightOrigin}
            </div>
          )}
          {light ? (
            <>
              <Slider label="Direction °" testId="light-angle" min={-180} max={180} step={1} value={normAngle(light.angle)} onCommit={(v) => steerLight(store, shadow.id, { angle: v, length: light.length })} />
              <Slider label="Length" testId="light-length" min={Math.max(1, light.length * 0.2)} max={light.length * 3} step={1} value={light.length} onCommit={(v) => steerLight(store, shadow.id, { angle: light.angle, length: v })} />
              {shadow.source.light && (
                <div className="prop-buttons">
                  {/* Regenerating passes the steered direction on: a cast-frame model casts the shadow anew that way; an image-frame model regenerates and the turn is applied again. */}
                  <ActionButton action="generateShadow" testId="light-recast" label="Regenerate for this light" />
                </div>
              )}
              <label className="check">
                <input type="checkbox" checked={view.lightHandle} onChange={(ev) => shadowView.set({ lightHandle: ev.target.checked })} /> Light handle on the canvas
              </label>
            </>
          ) : (
            <div className="muted small">This shadow lies straight under the object: there is no direction to steer.</div>
          )}
        </>
      )}
      <div className="panel-subtitle">Brush</div>
      <div className="prop-buttons">
        <ToggleButton testId="brush-erase" on={view.brush === 'erase'} onClick={() => brush('erase')} label="Erase" />
        <ToggleButton testId="brush-restore" on={view.brush === 'restore'} onClick={() => brush('restore')} label="Restore" />
        <Slider label="Size" testId="brush-size" min={4} max={400} step={1} value={view.brushSize} onCommit={(v) => shadowView.set({ brushSize: v })} />
      </div>
      {shadow.source?.attentionAssetId && (
        <>
          <div className="panel-subtitle">Attention maps</div>
          <div className="prop-buttons">
            <ToggleButton testId="attention-toggle" on={view.attention} onClick={() => shadowView.set({ attention: !view.attention, brush: view.attention ? null : view.brush })} label="Show" />
            <ToggleButton testId="attention-paint-occluders" on={view.brush === 'occluders'} onClick={() => brush('occluders')} label="Occluders" />
            <ToggleButton testId="attention-paint-shadows" on={view.brush === 'occluderShadows'} onClick={() => brush('occluderShadows')} label="Their shadows" />
            <ToggleButton testId="attention-clear" on={view.brush === 'clearAttention'} onClick={() => brush('clearAttention')} label="Clear" />
          </div>
          <ActionButton action="regenerateShadowWithAttention" testId="attention-regenerate" label="Regenerate from maps" />
        </>
      )}
      <div className="prop-buttons">
        <ActionButton action="resetShadow" testId="shadow-reset" label="Reset to generated" />
        <CompareButton />
      </div>
    </div>
  )
}

/** Committed on the native 'change' (picker closed: one undo step), not on every colour passed through. */
function TintInput({ value, onCommit }: { value: string; onCommit(v: string): void }) {
  const ref = useRef<HTMLInputElement>(null)
  useEffect(() => {
    const el = ref.current
    if (!el) return
    const change = () => {
      if (el.value !== value) onCommit(el.value)
    }
    el.addEventListener('change', change)
    return () => el.removeEventListener('change', change)
  }, [value, onCommit])
  return <input ref={ref} key={value} type="color" data-testid="shadow-tint" defaultValue={value} onKeyDown={(ev) => ev.stopPropagation()} />
}

function ToggleButton({ on, onClick, label, testId }: { on: boolean; onClick(): void; label: string; testId: string }) {
  return (
    <button type="button" className={`btn${on ? ' is-on' : ''}`} aria-pressed={on} data-testid={testId} onClick={onClick}>
      {label}
    </button>
  )
}

/** Hold to see the composition without shadows (also: hold the \ key). */
export function CompareButton() {
  const hold = (on: boolean) => shadowView.set({ comparing: on })
  return (
    <button type="button" className="btn" data-testid="shadow-compare" title="Hold to compare without shadows (\\)" onPointerDown={() => hold(true)} onPointerUp={() => hold(false)} onPointerLeave={() => hold(false)}>
      Before / after
    </button>
  )
}

/** A range input that previews while dragging and commits ONE undo step when released. */
function Slider({ label, value, min, max, step, onCommit, testId }: { label: string; value: number; min: number; max: number; step: number; onCommit(v: number): void; testId: string }) {
  const [draft, setDraft] = useState<number | null>(null)
  const shown = draft ?? value
  const commit = () => {
    if (draft !== null && draft !== value) onCommit(draft)
    setDraft(null)
  }
  return (
    <label className="field slider">
      <span>{label}</span>
      <input
        type="range"
        data-testid={testId}
        min={min}
        max={max}
        step={step}
        value={shown}
        onChange={(e) => setDraft(Number(e.target.value))}
        onPointerUp={commit}
        onKeyUp={commit}
        onBlur={commit}
        onKeyDown={(e) => e.stopPropagation()}
      />
      <output>{Math.round(shown * 100) / 100}</output>
    </label>
  )
}
