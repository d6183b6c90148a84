import { useEditor, useEditorState } from '../editor/context'

export function StatusBar() {
  const { store } = useEditor()
  const state = useEditorState()
  const c = state.composition
  return (
    <footer className="statusbar" data-testid="statusbar">
      <span data-testid="doc-name">
        {state.docName}
        {store.dirty ? ' •' : ''}
      </span>
      <span>
        {c.width} × {c.height} px
      </span>
      <span>{c.layers.length} layers</span>
      <span className="spacer" />
      {state.busy && (
        <span className="busy" data-testid="busy">
          {state.busy}
        </span>
      )}
      <span className="muted">Wheel: zoom · Space+drag: pan · Ctrl+0: fit · Ctrl+1: 100%</span>
    </footer>
  )
}
