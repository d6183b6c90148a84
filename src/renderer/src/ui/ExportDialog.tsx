import { useState } from 'react'
import { errorMessage } from '../api/client'
import { useEditor, useEditorState } from '../editor/context'

export function ExportDialog() {
  const { store, api, files, canvas } = useEditor()
  const state = useEditorState()
  const prefs = state.settings?.preferences
  const [format, setFormat] = useState<'png' | 'jpeg'>(prefs?.exportFormat ?? 'png')
  const [quality, setQuality] = useState(prefs?.jpegQuality ?? 92)
  const [working, setWorking] = useState(false)
  if (state.dialog !== 'export') return null
  const c = state.composition
  const close = () => store.set({ dialog: null })
  return (
    <div className="modal-backdrop" onMouseDown={close}>
      <div className="modal" role="dialog" aria-label="Export image" data-testid="export-dialog" onMouseDown={(e) => e.stopPropagation()}>
        <h2>Export image</h2>
        <p className="muted">
          Rendered from the original images at {c.width} × {c.height} px, whatever the zoom.
        </p>
        <label className="field wide">
          <span>Format</span>
          <select data-testid="export-format" value={format} onChange={(e) => setFormat(e.target.value as 'png' | 'jpeg')}>
            <option value="png">PNG (lossless)</option>
            <option value="jpeg">JPEG</option>
          </select>
        </label>
        {format === 'jpeg' && (
          <label className="field wide">
            <span>Quality {quality}</span>
            <input data-testid="export-quality" type="range" min={1} max={100} value={quality} onChange={(e) => setQuality(Number(e.target.value))} />
          </label>
        )}
        <div className="modal-buttons">
          <button type="button" className="btn" onClick={close} data-testid="export-cancel">
            Cancel
          </button>
          <button
            type="button"
            className="btn primary"
            data-testid="export-confirm"
            disabled={working}
            onClick={async () => {
              setWorking(true)
              store.set({ busy: 'Exporting…' })
              try {
                await files.exportImage({ store, api, files, canvas: canvas.current, state: store.getState() }, format, quality)
                close()
              } catch (err) {
                store.toast('error', errorMessage(err))
              } finally {
                setWorking(false)
                store.set({ busy: null })
              }
            }}
          >
            {working ? 'Exporting…' : 'Export'}
          </button>
        </div>
      </div>
    </div>
  )
}
