import { useState } from 'react'
import type { Layer } from '../../../shared/project'
import { useEditor, useEditorState } from '../editor/context'
import { moveLayer, updateLayer } from '../editor/store'
import { ActionButton } from './ActionButton'
import { Icon } from './Icon'

const KIND_LABEL: Record<Layer['kind'], string> = { photo: 'Photo', object: 'Cut-out', shadow: 'Shadow' }

export function LayersPanel() {
  const { store } = useEditor()
  const state = useEditorState()
  const layers = [...state.composition.layers].reverse() // top first, as in every editor
  const [dragId, setDragId] = useState<string | null>(null)

  const edit = (id: string, patch: Partial<Layer>) => store.commit({ composition: updateLayer(store.getState().composition, id, patch) }, true)

  return (
    <section className="panel layers" data-testid="layers-panel" aria-label="Layers">
      <div className="panel-title">
        <span>Layers</span>
        <span className="panel-actions">
          <ActionButton action="bringForward" icon="up" testId="layer-up" compact />
          <ActionButton action="sendBackward" icon="down" testId="layer-down" compact />
          <ActionButton action="duplicateLayer" icon="copy" testId="layer-duplicate" compact />
          <ActionButton action="deleteLayer" icon="trash" testId="layer-delete" compact />
        </span>
      </div>
      {layers.length === 0 && <div className="panel-empty">Open a photo to start.</div>}
      <ul className="layer-list">
        {layers.map((l) => (
          <li
            key={l.id}
            className={`layer-row${state.selection === l.id ? ' selected' : ''}${l.visible ? '' : ' hidden-layer'}`}
            data-testid="layer-row"
            data-layer-id={l.id}
            data-kind={l.kind}
            draggable={l.kind !== 'photo'}
            onDragStart={() => setDragId(l.id)}
            onDragOver={(e) => {
              if (dragId && l.kind !== 'photo') e.preventDefault()
            }}
            onDrop={(e) => {
              e.preventDefault()
              if (!dragId || dragId === l.id) return
              const c = store.getState().composition
              const from = c.layers.findIndex((x) => x.id === dragId)
              const to = c.layers.findIndex((x) => x.id === l.id)
              store.commit({ composition: moveLayer(c, dragId, to - from) }, true)
              setDragId(null)
            }}
            onClick={() => store.set({ selection: l.id })}
            onDoubleClick={() => store.set({ selection: l.id, renaming: l.id })}
          >
            <button
              type="button"
              className="row-btn"
              data-testid="layer-visibility"
              title={l.visible ? 'Hide layer' : 'Show layer'}
              onClick={(e) => {
                e.stopPropagation()
                edit(l.id, { visible: !l.visible })
              }}
            >
              <Icon name={l.visible ? 'eye' : 'eyeOff'} size={16} />
            </button>
            <span className={`kind-badge kind-${l.kind}`}>{KIND_LABEL[l.kind]}</span>
            {state.renaming === l.id ? (
              <input
                className="rename"
                data-testid="layer-rename-input"
                autoFocus
                defaultValue={l.name}
                onClick={(e) => e.stopPropagation()}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') (e.target as HTMLInputElement).blur()
                  if (e.key === 'Escape') store.set({ renaming: null })
                  e.stopPropagation()
                }}
                onBlur={(e) => {
                  const name = e.target.value.trim()
                  store.set({ renaming: null })
                  if (name && name !== l.name) edit(l.id, { name })
                }}
              />
            ) : (
              <span className="layer-name" data-testid="layer-name">
                {l.name}
              </span>
            )}
            <button
              type="button"
              className="row-btn"
              data-testid="layer-lock"
              title={l.locked ? 'Unlock layer' : 'Lock layer'}
              onClick={(e) => {
                e.stopPropagation()
                edit(l.id, { locked: !l.locked })
              }}
            >
              <Icon name={l.locked ? 'lock' : 'unlock'} size={16} />
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
