import { useEffect, useRef } from 'react'
import { CanvasController } from '../editor/canvas'
import { useEditor, useEditorState } from '../editor/context'
import { ShadowOverlay } from '../shadow/ShadowOverlay'

export function CanvasView({ onDropFiles }: { onDropFiles(files: File[]): void }) {
  const { store, canvas: canvasRef, run } = useEditor()
  const state = useEditorState()
  const wrap = useRef<HTMLDivElement>(null)
  const el = useRef<HTMLCanvasElement>(null)

  useEffect(() => {
    if (!el.current || !wrap.current) return
    const controller = new CanvasController(el.current, store)
    canvasRef.current = controller
    const box = wrap.current
    const ro = new ResizeObserver(() => controller.resize(box.clientWidth, box.clientHeight))
    ro.observe(box)
    controller.resize(box.clientWidth, box.clientHeight)
    return () => {
      ro.disconnect()
      controller.dispose()
      canvasRef.current = null
    }
  }, [store, canvasRef])

  return (
    <div
      className="canvas-wrap"
      ref={wrap}
      data-testid="canvas"
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes('Files')) e.preventDefault()
      }}
      onDrop={(e) => {
        e.preventDefault()
        const files = [...e.dataTransfer.files]
        if (files.length) onDropFiles(files)
      }}
    >
      <canvas ref={el} />
      <ShadowOverlay />
      {state.ready && state.composition.layers.length === 0 && (
        <div className="empty-hint">
          <p>Drop a photo here, or use Open photo.</p>
          <p className="muted">Then insert a cut-out (PNG or WebP with transparency).</p>
          <button type="button" className="btn" data-testid="open-sample" onClick={() => run('openSample')}>
            Open the sample
          </button>
        </div>
      )}
    </div>
  )
}
