import type { Transform } from '../../../shared/project'
import { useEditor, useEditorState } from '../editor/context'
import { layerById, updateLayer, updateTransform } from '../editor/store'
import { ActionButton } from './ActionButton'

/** Numeric position, scale, rotation and opacity of the selected layer (each change is one undo step). */
export function PropertiesPanel() {
  const { store } = useEditor()
  const state = useEditorState()
  const layer = layerById(state.composition, state.selection)
  if (!layer) {
    return (
      <section className="panel props" data-testid="properties-panel">
        <div className="panel-title">Properties</div>
        <div className="panel-empty">Select a layer to edit it.</div>
      </section>
    )
  }
  const c = state.composition
  const setT = (patch: Partial<Transform>) => store.commit({ composition: updateTransform(store.getState().composition, layer.id, patch) }, true)
  const t = layer.kind === 'photo' ? null : layer.transform
  const meta = c.assets.find((a) => a.id === layer.assetId)
  return (
    <section className="panel props" data-testid="properties-panel">
      <div className="panel-title">Properties</div>
      {t ? (
        <div className="prop-grid">
          <NumberField label="X" testId="prop-x" value={t.x} onCommit={(x) => setT({ x })} disabled={layer.locked} />
          <NumberField label="Y" testId="prop-y" value={t.y} onCommit={(y) => setT({ y })} disabled={layer.locked} />
          <NumberField label="Scale %" testId="prop-scale" value={t.scaleX * 100} min={0.1} onCommit={(s) => setT({ scaleX: (s / 100) * 1, scaleY: (s / 100) * (t.scaleY / t.scaleX) })} disabled={layer.locked} />
          <NumberField label="Angle °" testId="prop-angle" value={t.angle} onCommit={(angle) => setT({ angle: ((angle % 360) + 360) % 360 })} disabled={layer.locked} />
          <NumberField label="Opacity %" testId="prop-opacity" value={layer.opacity * 100} min={0} max={100} onCommit={(o) => store.commit({ composition: updateLayer(store.getState().composition, layer.id, { opacity: o / 100 }) }, true)} disabled={layer.locked} />
          <div className="prop-size">{meta ? `${Math.round(meta.width * t.scaleX)} × ${Math.round(meta.height * t.scaleY)} px` : ''}</div>
          <div className="prop-buttons">
            <ActionButton action="flipHorizontal" icon="flipH" testId="flip-h" compact />
            <ActionButton action="flipVertical" icon="flipV" testId="flip-v" compact />
          </div>
        </div>
      ) : (
        <div className="panel-empty">
          Background photo, {c.width} × {c.height} px (exported at this size).
        </div>
      )}
    </section>
  )
}

function NumberField({ label, value, onCommit, testId, min, max, disabled }: { label: string; value: number; onCommit(v: number): void; testId: string; min?: number; max?: number; disabled?: boolean }) {
  const shown = Math.round(value * 10) / 10
  return (
    <label className="field">
      <span>{label}</span>
      <input
        key={shown}
        type="number"
        data-testid={testId}
        defaultValue={shown}
        step="any"
        min={min}
        max={max}
        disabled={disabled}
        onKeyDown={(e) => {
          e.stopPropagation()
          if (e.key === 'Enter') (e.target as HTMLInputElement).blur()
        }}
        onBlur={(e) => {
          const v = Number(e.target.value)
          if (!Number.isFinite(v) || v === shown) return
          if (min !== undefined && v < min) return
          if (max !== undefined && v > max) return
          onCommit(v)
        }}
      />
    </label>
  )
}
