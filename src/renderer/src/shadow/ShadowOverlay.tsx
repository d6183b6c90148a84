import { useEffect, useReducer, useRef, useState } from 'react'
import type { ShadowLayer } from '../../../shared/project'
import { currentLight, direction } from '../../../shared/shadow'
import { useEditor, useEditorState } from '../editor/context'
import { editShadow, selectedShadow, steerLight } from './actions'
import { loadImage } from './render'
import { shadowView, useShadowView } from './state'

/**
 * What the shadow tools draw over the canvas: the light handle (drag the shadow's far end about
 * the object's contact point: direction and length), the attention-map overlay with its brushes,
 * the erase/restore brush, and compare (shadows hidden while held). Positions follow the canvas
 * viewport (zoom, pan) on every Fabric frame.
 */
export function ShadowOverlay() {
  const { store, canvas } = useEditor()
  const state = useEditorState()
  const view = useShadowView()
  const [, redraw] = useReducer((n: number) => n + 1, 0)
  const shadow = selectedShadow(state.composition, state.selection)
  const [drag, setDrag] = useState<{ angle: number; length: number } | null>(null)

  // Follow the viewport.
  useEffect(() => {
    const c = canvas.current?.canvas
    if (!c) return
    const h = () => redraw()
    c.on('after:render', h)
    return () => void c.off('after:render', h)
  }, [canvas, state.ready])

  // Compare: hide shadow layers on the canvas while held (view only; the document is unchanged).
  // Hidden again before every frame, since any document change re-applies layer visibility.
  useEffect(() => {
    const ctl = canvas.current
    if (!ctl || !view.comparing) return
    const hide = () => {
      const shadows = new Set(store.getState().composition.layers.filter((l) => l.kind === 'shadow').map((l) => l.id))
      for (const o of ctl.canvas.getObjects()) {
        const id = (o as { umbraLayerId?: string }).umbraLayerId
        if (id && shadows.has(id)) o.visible = false
      }
    }
    ctl.canvas.on('before:render', hide)
    hide()
    ctl.canvas.requestRenderAll()
    return () => {
      ctl.canvas.off('before:render', hide)
      store.set({}) // the canvas re-applies each layer's own visibility
    }
  }, [view.comparing, canvas, store])
  useEffect(() => {
    const down = (e: KeyboardEvent) => {
      if (e.key === '\\' && !e.repeat) shadowView.set({ comparing: true })
    }
    const up = (e: KeyboardEvent) => {
      if (e.key === '\\') shadowView.set({ comparing: false })
    }
    window.addEventListener('keydown', down)
    window.addEventListener('keyup', up)
    return () => {
      window.removeEventListener('keydown', down)
      window.removeEventListener('keyup', up)
    }
  }, [])

  const ctl = canvas.current
  if (!ctl || !shadow?.source) return null
  const toScreen = (x: number, y: number) => ctl.sceneToScreen(x, y)
  const toScene = (sx: number, sy: number) => {
    const v = ctl.canvas.viewportTransform
    return { x: (sx - v[4]) / v[0], y: (sy - v[5]) / v[3] }
  }
  const src = shadow.source
  const light = drag ?? currentLight(src)
  const contact = toScreen(src.contact.x, src.contact.y)
  let handle = null
  if (light && view.lightHandle && !view.brush) {
    const d = direction(light.angle)
    const tip = toScreen(src.contact.x + d.x * light.length, src.contact.y + d.y * light.length)
    const sun = toScreen(src.contact.x - d.x * light.length * 0.8, src.contact.y - d.y * light.length * 0.8)
    const onDown = (e: React.PointerEvent) => {
      e.preventDefault()
      e.stopPropagation()
      ;(e.target as Element).setPointerCapture(e.pointerId)
      const rect = (e.currentTarget as Element).closest('svg')!.getBoundingClientRect()
      let last: { angle: number; length: number } | null = null
      const move = (ev: PointerEvent) => {
        const p = toScene(ev.clientX - rect.left, ev.clientY - rect.top)
        const dx = p.x - src.contact.x
        const dy = p.y - src.contact.y
        last = { angle: (Math.atan2(dy, dx) * 180) / Math.PI, length: Math.max(4, Math.hypot(dx, dy)) }
        setDrag(last)
      }
      const up = () => {
        window.removeEventListener('pointermove', move)
        window.removeEventListener('pointerup', up)
        setDrag(null)
        if (last) steerLight(store, shadow.id, last) // one undo step per drag
      }
      window.addEventListener('pointermove', move)
      window.addEventListener('pointerup', up)
    }
    handle = (
      <g className="light-handle">
        <line x1={contact.x} y1={contact.y} x2={tip.x} y2={tip.y} stroke="#ffd24a" strokeWidth={2} strokeDasharray="6 4" />
        <line x1={contact.x} y1={contact.y} x2={sun.x} y2={sun.y} stroke="#ffd24a" strokeWidth={1} strokeOpacity={0.5} />
        <circle cx={sun.x} cy={sun.y} r={9} fill="#ffd24a" stroke="#7a5b00" data-testid="light-sun">
          <title>Light (the shadow falls away from it)</title>
        </circle>
        <circle cx={contact.x} cy={contact.y} r={4} fill="#ffffff" stroke="#333" />
        <circle cx={tip.x} cy={tip.y} r={8} fill="#ffffff" stroke="#c08a00" strokeWidth={3} style={{ cursor: 'grab', pointerEvents: 'all' }} data-testid="light-handle" onPointerDown={onDown}>
          <title>Drag to steer the shadow (direction and length)</title>
        </circle>
      </g>
    )
  }
  return (
    <div className="shadow-overlay" style={{ position: 'absolute', inset: 0, pointerEvents: 'none' }}>
      {view.attention && src.attentionAssetId && src.attentionRect && <AttentionLayer shadow={shadow} toScreen={toScreen} />}
      {view.brush && <BrushLayer shadow={shadow} toScene={toScene} />}
      <svg width="100%" height="100%" style={{ position: 'absolute', inset: 0, pointerEvents: 'none', overflow: 'visible' }}>
        {handle}
      </svg>
    </div>
  )
}

/** The attention maps over their window: occluders red, occluder shadows blue. */
function AttentionLayer({ shadow, toScreen }: { shadow: ShadowLayer; toScreen(x: number, y: number): { x: number; y: number } }) {
  const { store } = useEditor()
  const ref = useRef<HTMLCanvasElement>(null)
  const rect = shadow.source!.attentionRect!
  const id = shadow.source!.attentionAssetId!
  useEffect(() => {
    const url = store.previews.get(id)?.url
    const el = ref.current
    if (!url || !el) return
    void loadImage(url).then((img) => {
      el.width = img.naturalWidth
      el.height = img.naturalHeight
      const g = el.getContext('2d')!
      g.drawImage(img, 0, 0)
      const d = g.getImageData(0, 0, el.width, el.height)
      for (let i = 0; i < d.data.length; i += 4) {
        const occ = d.data[i]
        const sh = d.data[i + 1]
        d.data[i] = occ
        d.data[i + 1] = Math.round(sh * 0.4)
        d.data[i + 2] = sh
        d.data[i + 3] = Math.max(occ, sh) * 0.75
      }
      g.putImageData(d, 0, 0)
    })
  }, [id, store])
  const a = toScreen(rect.x, rect.y)
  const b = toScreen(rect.x + rect.width, rect.y + rect.height)
  return <canvas ref={ref} data-testid="attention-overlay" style={{ position: 'absolute', left: a.x, top: a.y, width: b.x - a.x, height: b.y - a.y, pointerEvents: 'none', outline: '1px dashed rgba(255,255,255,0.5)' }} />
}

/**
 * Brush strokes: erase/restore paint the shadow's keep-mask (in the shadow image's pixels);
 * the attention brushes paint the attention maps. A stroke is one undo step (a new image asset).
 */
function BrushLayer({ shadow, toScene }: { shadow: ShadowLayer; toScene(x: number, y: number): { x: number; y: number } }) {
  const { store, api } = useEditor()
  const view = useShadowView()
  const brush = view.brush!
  const attention = brush === 'occluders' || brush === 'occluderShadows' || brush === 'clearAttention'

  const onDown = (e: React.PointerEvent<HTMLDivElement>) => {
    e.preventDefault()
    // Everything from the event is read now (React reuses it), listeners are added now (the stroke
    // may end before the target image is ready), and points wait in a queue until it is.
    const el = e.currentTarget
    const box = el.getBoundingClientRect()
    el.setPointerCapture(e.pointerId)
    const points: { x: number; y: number }[] = [{ x: e.clientX, y: e.clientY }]
    let paintPoint: ((p: { x: number; y: number }) => void) | null = null
    let ended = false
    const move = (ev: PointerEvent) => {
      const p = { x: ev.clientX, y: ev.clientY }
      if (paintPoint) paintPoint(p)
      else points.push(p)
    }
    const ready = (attention ? attentionTarget(shadow) : maskTarget(shadow)).then((target) => {
      if (!target) return null
      const g = target.canvas.getContext('2d', { willReadFrequently: true })!
      paintPoint = (pt) => paintAt(g, target, pt)
      for (const pt of points.splice(0)) paintPoint(pt)
      return target
    })
    const up = async () => {
      if (ended) return
      ended = true
      el.removeEventListener('pointermove', move)
      el.removeEventListener('pointerup', up)
      const target = await ready
      if (!target) return
      const blob: Blob = await new Promise((res) => target.canvas.toBlob((b) => res(b!), 'image/png'))
      const bytes = new Uint8Array(await blob.arrayBuffer())
      const { asset, preview } = await api.call('shadow.putImage', { name: attention ? `${shadow.name} attention.png` : `${shadow.name} brush.png`, bytes })
      store.addPreview(preview)
      const c = store.getState().composition
      store.commit({ composition: { ...c, assets: c.assets.some((a) => a.id === asset.id) ? c.assets : [...c.assets, asset] } }, false)
      editShadow(store, shadow.id, (l) =>
        attention ? { ...l, source: { ...l.source!, attentionAssetId: asset.id, attentionEdited: true } } : { ...l, edits: { ...l.edits, maskAssetId: asset.id } },
      )
    }
    el.addEventListener('pointermove', move)
    el.addEventListener('pointerup', up)

    function paintAt(g: CanvasRenderingContext2D, target: { canvas: HTMLCanvasElement; pxPerPhotoPx: number; toLocal(x: number, y: number): { x: number; y: number } }, pt: { x: number; y: number }) {
      const p = toScene(pt.x - box.left, pt.y - box.top)
      const q = target.toLocal(p.x, p.y)
      const r = Math.max(1, view.brushSize * target.pxPerPhotoPx)
      if (brush === 'erase' || brush === 'restore') {
        g.fillStyle = brush === 'erase' ? '#000000' : '#ffffff'
        g.beginPath()
        g.arc(q.x, q.y, r, 0, Math.PI * 2)
        g.fill()
        return
      }
      // Attention: R = occluders, G = occluder shadows; paint one channel up, or clear both.
      const x0 = Math.max(0, Math.floor(q.x - r))
      const y0 = Math.max(0, Math.floor(q.y - r))
      const w = Math.min(target.canvas.width - x0, Math.ceil(2 * r) + 1)
      const h = Math.min(target.canvas.height - y0, Math.ceil(2 * r) + 1)
      if (w <= 0 || h <= 0) return
      const d = g.getImageData(x0, y0, w, h)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          if (Math.hypot(x0 + x - q.x, y0 + y - q.y) > r) continue
          const i = (y * w + x) * 4
          if (brush === 'occluders') d.data[i] = 255
          else if (brush === 'occluderShadows') d.data[i + 1] = 255
          else d.data[i] = d.data[i + 1] = 0
          d.data[i + 3] = 255
        }
      g.putImageData(d, x0, y0)
    }
  }
  return <div data-testid="brush-layer" onPointerDown={onDown} style={{ position: 'absolute', inset: 0, pointerEvents: 'auto', cursor: 'crosshair' }} />

  async function attentionTarget(l: ShadowLayer) {
    const src = l.source
    const url = src?.attentionAssetId ? store.previews.get(src.attentionAssetId)?.url : undefined
    if (!src?.attentionRect || !url) return null
    const img = await loadImage(url)
    const canvas = document.createElement('canvas')
    canvas.width = img.naturalWidth
    canvas.height = img.naturalHeight
    canvas.getContext('2d')!.drawImage(img, 0, 0)
    const r = src.attentionRect
    return { canvas, pxPerPhotoPx: img.naturalWidth / r.width, toLocal: (x: number, y: number) => ({ x: ((x - r.x) / r.width) * img.naturalWidth, y: ((y - r.y) / r.height) * img.naturalHeight }) }
  }

  async function maskTarget(l: ShadowLayer) {
    const prev = store.previews.get(l.assetId)
    if (!prev) return null
    const canvas = document.createElement('canvas')
    canvas.width = prev.width
    canvas.height = prev.height
    const g = canvas.getContext('2d')!
    g.fillStyle = '#ffffff'
    g.fillRect(0, 0, canvas.width, canvas.height)
    const maskUrl = l.edits?.maskAssetId ? store.previews.get(l.edits.maskAssetId)?.url : undefined
    if (maskUrl) g.drawImage(await loadImage(maskUrl), 0, 0, canvas.width, canvas.height)
    const meta = store.getState().composition.assets.find((a) => a.id === l.assetId)
    const kx = (meta?.width ?? prev.width) / prev.width
    const t = l.transform
    const sx = t.scaleX * kx
    const sy = t.scaleY * kx
    const rad = (-t.angle * Math.PI) / 180
    const skew = Math.tan(((l.edits?.skewX ?? 0) * Math.PI) / 180)
    return {
      canvas,
      pxPerPhotoPx: 1 / sx,
      toLocal: (x: number, y: number) => {
        // inverse of: centre + rotate(angle) * scale * skew * (local - size/2)
        const dx = x - t.x
        const dy = y - t.y
        let lx = (dx * Math.cos(rad) - dy * Math.sin(rad)) / sx
        const ly = (dx * Math.sin(rad) + dy * Math.cos(rad)) / sy
        lx -= skew * ly
        return { x: (t.flipX ? -lx : lx) + canvas.width / 2, y: (t.flipY ? -ly : ly) + canvas.height / 2 }
      },
    }
  }
}
