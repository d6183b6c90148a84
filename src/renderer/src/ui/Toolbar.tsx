import { useState } from 'react'
import { openRecent } from '../editor/actions'
import { useEditor, useEditorState } from '../editor/context'
import { ActionButton } from './ActionButton'
import { Icon } from './Icon'

export function Toolbar() {
  const state = useEditorState()
  return (
    <header className="toolbar" role="toolbar">
      <div className="brand">
        <Icon name="shadow" size={20} />
        <span>Umbra</span>
      </div>
      <div className="group">
        <ActionButton action="openPhoto" icon="photo" testId="open-photo" label="Open photo" />
        <ActionButton action="insertObject" icon="object" testId="insert-object" label="Insert cut-out" />
      </div>
      <div className="group">
        <ActionButton action="openProject" icon="folder" testId="open-project" label="Open" />
        <ActionButton action="saveProject" icon="save" testId="save-project" label="Save" />
        <RecentMenu />
      </div>
      <div className="group">
        <ActionButton action="undo" icon="undo" testId="undo" compact />
        <ActionButton action="redo" icon="redo" testId="redo" compact />
      </div>
      <div className="group">
        <ActionButton action="generateShadow" icon="shadow" testId="generate-shadow" label="Generate shadow" />
      </div>
      <div className="spacer" />
      <div className="group">
        <ActionButton action="zoomOut" icon="zoomOut" testId="zoom-out" compact />
        <span className="zoom-readout" data-testid="zoom-level" title="Zoom">
          {Math.round(state.zoom * 100)}%
        </span>
        <ActionButton action="zoomIn" icon="zoomIn" testId="zoom-in" compact />
        <ActionButton action="zoomFit" icon="fit" testId="zoom-fit" compact />
      </div>
      <div className="group">
        <ActionButton action="export" icon="export" testId="export" label="Export" />
      </div>
    </header>
  )
}

function RecentMenu() {
  const { store, api } = useEditor()
  const state = useEditorState()
  const [open, setOpen] = useState(false)
  const recent = state.settings?.recentFiles ?? []
  return (
    <div className="menu-anchor">
      <button type="button" className="btn" data-testid="recent-files" title="Recent files" onClick={() => setOpen(!open)} disabled={!state.capabilities.openByPath}>
        <Icon name="clock" />
        <span>Recent</span>
      </button>
      {open && (
        <div className="menu" role="menu" data-testid="recent-menu" onMouseLeave={() => setOpen(false)}>
          {recent.length === 0 && <div className="menu-empty">No recent files</div>}
          {recent.map((f) => (
            <button
              key={f.path}
              type="button"
              role="menuitem"
              className="menu-item"
              data-testid="recent-item"
              title={f.path}
              onClick={() => {
                setOpen(false)
                void openRecent(store, api, f.path, f.kind)
              }}
            >
              <span className="menu-kind">{f.kind}</span>
              <span className="menu-name">{f.name}</span>
            </button>
          ))}
          {recent.length > 0 && (
            <button
              type="button"
              className="menu-item menu-clear"
              onClick={async () => {
                setOpen(false)
                store.set({ settings: await api.call('recent.clear', {}) })
              }}
            >
              Clear recent files
            </button>
          )}
        </div>
      )}
    </div>
  )
}
