import { Canvas, FabricImage, Pattern, Point, Rect, type FabricObject, type TPointerEventInfo } from 'fabric'
import type { Layer } from '../../../shared/project'
import { layerById, updateTransform, type EditorStore } from './store'
import { layerDrawKey, renderShadowCanvas } from '../shadow/render'

const MIN_ZOOM = 0.02
const MAX_ZOOM = 32

type LayerObject = FabricImage & { umbraLayerId?: string; umbraAssetId?: string; umbraDrawKey?: string }

/**
 * The Fabric canvas, kept in step with the store. Scene coordinates ARE original photo pixels:
 * each preview image is drawn scaled by (original size / preview size), so a layer's transform is
 * used as it is, and zoom/pan live only in Fabric's viewport transform (never in the document).
 *
 * Fabric -> store: when a drag, scale or rotate ends ('object:modified'), the new transform is
 * committed as ONE undo step. Store -> Fabric: every state change is reconciled (create, update,
 * reorder, remove objects).
 */
export class CanvasController {
  readonly canvas: Canvas
  private objects = new Map<string, LayerObject>()
  private loading = new Map<string, Promise<void>>()
  private artboard: Rect
  private unsubscribe: () => void
  private spaceDown = false
  private panning: { x: number; y: number } | null = null
  private lastSize = { w: 0, h: 0 }
  private fittedFor: string | null = null
  private syncing = false

  constructor(
    element: HTMLCanvasElement,
    private readonly store: EditorStore,
  ) {
    this.canvas = new Canvas(element, {
      preserveObjectStacking: true,
      selection: false,
      fireMiddleClick: true,
      stopContextMenu: true,
      backgroundColor: '#2b2d31',
      uniformScaling: true,
    })
    this.artboard = new Rect({ left: 0, top: 0, width: 1, height: 1, originX: 'left', originY: 'top', fill: '#ffffff', selectable: false, evented: false, strokeWidth: 0 })
    this.canvas.add(this.artboard)
    this.bindEvents()
    this.unsubscribe = store.subscribe(() => this.sync())
    this.sync()
  }

  dispose(): void {
    this.unsubscribe()
    window.removeEventListener('keydown', this.onKeyDown, true)
    window.removeEventListener('keyup', this.onKeyUp, true)
    void this.canvas.dispose()
  }

  resize(width: number, height: number): void {
    if (width <= 0 || height <= 0) return
    this.canvas.setDimensions({ width, height })
    const first = this.lastSize.w === 0
    this.lastSize = { w: width, h: height }
    if (first) this.zoomFit()
    this.canvas.requestRenderAll()
  }

  // ---- view ----

  get zoom(): number {
    return this.canvas.getZoom()
  }

  zoomFit(): void {
    const { width, height } = this.store.getState().composition
    const cw = this.canvas.getWidth()
    const ch = this.canvas.getHeight()
    const z = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, Math.min((cw - 48) / width, (ch - 48) / height)))
    this.canvas.setViewportTransform([z, 0, 0, z, (cw - width * z) / 2, (ch - height * z) / 2])
    this.afterZoom()
  }

  /** Zoom to `value` about a point on screen (default: the centre of the view). */
  zoomTo(value: number, at?: Point): void {
    const z = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, value))
    this.canvas.zoomToPoint(at ?? new Point(this.canvas.getWidth() / 2, this.canvas.getHeight() / 2), z)
    this.afterZoom()
  }

  zoomBy(factor: number, at?: Point): void {
    this.zoomTo(this.zoom * factor, at)
  }

  /** Screen position (CSS pixels inside the canvas element) of a point in photo pixels. */
  sceneToScreen(x: number, y: number): { x: number; y: number } {
    const v = this.canvas.viewportTransform
    return { x: v[0] * x + v[2] * y + v[4], y: v[1] * x + v[3] * y + v[5] }
  }

  private afterZoom() {
    this.canvas.requestRenderAll()
    this.store.set({ zoom: this.zoom })
  }

  // ---- events ----

  private bindEvents() {
    const c = this.canvas
    c.on('object:modified', (e) => {
      const obj = e.target as LayerObject | undefined
      if (!obj?.umbraLayerId) return
      this.commitObject(obj)
    })
    c.on('selection:created', () => this.selectionFromCanvas())
    c.on('selection:updated', () => this.selectionFromCanvas())
    c.on('selection:cleared', () => {
      if (!this.syncing && this.store.getState().selection) this.store.set({ selection: null })
    })
    c.on('mouse:wheel', (opt: TPointerEventInfo<WheelEvent>) => {
      const e = opt.e
      e.preventDefault()
      e.stopPropagation()
      if (e.ctrlKey || !e.shiftKey) {
        // wheel (and pinch, which arrives as ctrl+wheel) zooms about the pointer
        this.zoomBy(Math.pow(0.999, e.deltaY * (e.deltaMode === 1 ? 30 : 1)), new Point(e.offsetX, e.offsetY))
      } else {
        this.canvas.relativePan(new Point(-e.deltaY, 0))
        this.canvas.requestRenderAll()
      }
    })
    c.on('mouse:down', (opt) => {
      const e = opt.e as MouseEvent
      if (this.spaceDown || e.button === 1) {
        this.panning = { x: e.clientX, y: e.clientY }
        c.selection = false
        c.setCursor('grabbing')
        c.discardActiveObject()
      }
    })
    c.on('mouse:move', (opt) => {
      if (!this.panning) return
      const e = opt.e as MouseEvent
      c.relativePan(new Point(e.clientX - this.panning.x, e.clientY - this.panning.y))
      this.panning = { x: e.clientX, y: e.clientY }
      c.requestRenderAll()
    })
    c.on('mouse:up', () => {
      if (!this.panning) return
      this.panning = null
      c.setCursor(this.spaceDown ? 'grab' : 'default')
      this.store.set({ zoom: this.zoom })
    })
    window.addEventListener('keydown', this.onKeyDown, true)
    window.addEventListener('keyup', this.onKeyUp, true)
  }

  private onKeyDown = (e: KeyboardEvent) => {
    if (e.code !== 'Space' || isTyping(e)) return
    e.preventDefault()
    if (!this.spaceDown) {
      this.spaceDown = true
      this.canvas.defaultCursor = 'grab'
      this.canvas.setCursor('grab')
      this.canvas.forEachObject((o) => {
        ;(o as FabricObject & { umbraWasEvented?: boolean }).umbraWasEvented = o.evented
        o.evented = false
      })
    }
  }

  private onKeyUp = (e: KeyboardEvent) => {
    if (e.code !== 'Space') return
    this.spaceDown = false
    this.canvas.defaultCursor = 'default'
    this.canvas.setCursor('default')
    this.sync()
  }

  private selectionFromCanvas() {
    if (this.syncing) return
    const obj = this.canvas.getActiveObject() as LayerObject | undefined
    const id = obj?.umbraLayerId ?? null
    if (id !== this.store.getState().selection) this.store.set({ selection: id })
  }

  private commitObject(obj: LayerObject) {
    const state = this.store.getState()
    const layer = layerById(state.composition, obj.umbraLayerId ?? null)
    if (!layer || layer.kind === 'photo') return
    const k = this.previewScale(layer)
    const next = updateTransform(state.composition, layer.id, {
      x: obj.left,
      y: obj.top,
      scaleX: obj.scaleX / k.x,
      scaleY: obj.scaleY / k.y,
      angle: ((obj.angle % 360) + 360) % 360,
      flipX: !!obj.flipX,
      flipY: !!obj.flipY,
    })
    this.store.commit({ composition: next, selection: layer.id }, true)
  }

  /** Original pixels per preview pixel for a layer's image. */
  private previewScale(layer: Layer): { x: number; y: number } {
    const meta = this.store.getState().composition.assets.find((a) => a.id === layer.assetId)
    const prev = this.store.previews.get(layer.assetId)
    if (!meta || !prev) return { x: 1, y: 1 }
    return { x: meta.width / prev.width, y: meta.height / prev.height }
  }

  // ---- store -> canvas ----

  private sync() {
    const state = this.store.getState()
    const c = state.composition
    this.syncing = true
    try {
      // Under the photo: black; without a photo the canvas is transparent: a checkerboard, as editors show it.
      const fill = c.layers[0]?.kind === 'photo' ? '#000000' : c.layers.length ? checkerboard(Math.max(8, Math.round(Math.max(c.width, c.height) / 80))) : '#3a3d43'
      this.artboard.set({ width: c.width, height: c.height, fill })
      const wanted = new Set(c.layers.map((l) => l.id))
      for (const [id, obj] of this.objects) {
        if (!wanted.has(id)) {
          this.canvas.remove(obj)
          this.objects.delete(id)
        }
      }
      c.layers.forEach((layer, index) => {
        const obj = this.objects.get(layer.id)
        if (!obj || obj.umbraDrawKey !== layerDrawKey(layer)) {
          this.load(layer)
          if (!obj) return
        }
        this.apply(obj, layer)
        this.canvas.moveObjectTo(obj, index + 1) // +1: the artboard is at the bottom
      })
      const active = this.canvas.getActiveObject() as LayerObject | undefined
      const sel = state.selection ? this.objects.get(state.selection) : undefined
      if (sel && active !== sel && sel.selectable) this.canvas.setActiveObject(sel)
      else if (!sel && active) this.canvas.discardActiveObject()
      const key = `${c.width}x${c.height}`
      if (this.fittedFor !== key && this.lastSize.w > 0) {
        this.fittedFor = key
        this.zoomFit()
      }
    } finally {
      this.syncing = false
    }
    this.canvas.requestRenderAll()
  }

  private apply(obj: LayerObject, layer: Layer) {
    const c = this.store.getState().composition
    const k = this.previewScale(layer)
    const editable = layer.kind !== 'photo' && !layer.locked && !this.spaceDown
    if (layer.kind === 'photo') {
      obj.set({ left: c.width / 2, top: c.height / 2, scaleX: k.x, scaleY: k.y, angle: 0, flipX: false, flipY: false })
    } else {
      const t = layer.transform
      obj.set({ left: t.x, top: t.y, scaleX: t.scaleX * k.x, scaleY: t.scaleY * k.y, angle: t.angle, flipX: t.flipX, flipY: t.flipY })
    }
    obj.set({
      visible: layer.visible,
      opacity: layer.opacity,
      selectable: editable,
      evented: editable,
      hasControls: editable,
      globalCompositeOperation: layer.kind === 'shadow' && layer.blend === 'multiply' ? 'multiply' : 'source-over',
      skewX: layer.kind === 'shadow' ? (layer.edits?.skewX ?? 0) : 0,
    })
    obj.setCoords()
  }

  private load(layer: Layer) {
    const drawKey = layerDrawKey(layer)
    const key = `${layer.id}:${drawKey}`
    if (this.loading.has(key)) return
    const preview = this.store.previews.get(layer.assetId)
    if (!preview) return
    // A shadow with pixel edits (softness, density, tint, brush) is drawn from a rendered canvas.
    const maskId = layer.kind === 'shadow' ? layer.edits?.maskAssetId : null
    const source =
      layer.kind === 'shadow' && drawKey !== layer.assetId
        ? renderShadowCanvas(layer, preview.url, maskId ? (this.store.previews.get(maskId)?.url ?? null) : null).then((el) => new FabricImage(el, { originX: 'center', originY: 'center' }))
        : FabricImage.fromURL(preview.url, {}, { originX: 'center', originY: 'center' })
    const p = source
      .then((img: LayerObject) => {
        this.loading.delete(key)
        const current = layerById(this.store.getState().composition, layer.id)
        if (!current || layerDrawKey(current) !== drawKey) return
        const old = this.objects.get(layer.id)
        // Replacing the selected layer's object (a new image for the same layer, e.g. an edited
        // shadow) must not read as the user deselecting it: sync() selects the new object.
        this.syncing = true
        try {
          if (old) this.canvas.remove(old)
        } finally {
          this.syncing = false
        }
        img.umbraLayerId = layer.id
        img.umbraAssetId = layer.assetId
        img.umbraDrawKey = drawKey
        img.set({ borderColor: '#4f9cff', cornerColor: '#ffffff', cornerStrokeColor: '#4f9cff', transparentCorners: false, cornerSize: 12, borderScaleFactor: 1.5, lockSkewingX: true, lockSkewingY: true, objectCaching: false })
        this.objects.set(layer.id, img)
        this.canvas.add(img)
        this.sync()
        this.store.set({}) // let views that wait for the canvas (tests, status) see it
      })
      .catch((err) => {
        this.loading.delete(key)
        this.store.toast('error', `Cannot show layer '${layer.name}': ${(err as Error).message}`)
      })
    this.loading.set(key, p)
  }

  /** True when every layer has its object on the canvas (previews loaded). */
  get settled(): boolean {
    const c = this.store.getState().composition
    return this.loading.size === 0 && c.layers.every((l) => this.objects.get(l.id)?.umbraDrawKey === layerDrawKey(l))
  }

  /** Screen-space box of a layer's object (for tests and overlays). */
  screenBoxOf(id: string): { left: number; top: number; width: number; height: number } | null {
    const obj = this.objects.get(id)
    if (!obj) return null
    const r = obj.getBoundingRect()
    const a = this.sceneToScreen(r.left, r.top)
    const z = this.zoom
    return { left: a.x, top: a.y, width: r.width * z, height: r.height * z }
  }

  /** Screen position of a control handle ('br', 'tl', 'mtr', ...) of the selected object. */
  controlPoint(id: string, corner: string): { x: number; y: number } | null {
    const obj = this.objects.get(id)
    if (!obj) return null
    obj.setCoords()
    const p = (obj.oCoords as Record<string, { x: number; y: number }>)[corner]
    return p ? { x: p.x, y: p.y } : null
  }
}

export function isTyping(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)
}

const checkers = new Map<number, Pattern>()
function checkerboard(cell: number): Pattern {
  let p = checkers.get(cell)
  if (!p) {
    const el = document.createElement('canvas')
    el.width = el.height = cell * 2
    const g = el.getContext('2d')!
    g.fillStyle = '#d9d9d9'
    g.fillRect(0, 0, cell * 2, cell * 2)
    g.fillStyle = '#ffffff'
    g.fillRect(0, 0, cell, cell)
    g.fillRect(cell, cell, cell, cell)
    p = new Pattern({ source: el, repeat: 'repeat' })
    checkers.set(cell, p)
  }
  return p
}
