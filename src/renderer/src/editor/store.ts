import type { Composition, Layer, Transform } from '../../../shared/project'
import type { Preview } from '../../../shared/api'
import type { Settings } from '../../../shared/settings'

/** A preview on screen: a blob URL of the downscaled image the Node side sent. */
export interface PreviewImage {
  assetId: string
  url: string
  width: number
  height: number
}

export interface Toast {
  id: number
  kind: 'error' | 'info'
  message: string
}

/** What undo/redo restores. */
export interface Snapshot {
  composition: Composition
  selection: string | null
}

export interface EditorState {
  composition: Composition
  selection: string | null
  /** Shown in the title bar and used for default file names. */
  docName: string
  /** Where the project was opened from / saved to (Ctrl+S saves there again). */
  docPath: string | null
  /** The composition as last opened or saved: the document is dirty when it differs. */
  saved: Composition
  busy: string | null
  toasts: Toast[]
  dialog: null | 'export'
  renaming: string | null
  settings: Settings | null
  transport: 'electron' | 'web'
  capabilities: { nativeDialogs: boolean; openByPath: boolean }
  zoom: number
  canUndo: boolean
  canRedo: boolean
  ready: boolean
}

const EMPTY: Composition = { width: 1600, height: 1000, layers: [], assets: [] }

let toastSeq = 0

/**
 * The editor's state and its undo history. The document is immutable: every edit makes a new
 * Composition, so a history entry is just the previous reference, and "dirty" is a reference
 * comparison with the last saved one. View state (zoom, pan) is not part of the history.
 */
export class EditorStore {
  private state: EditorState = {
    composition: EMPTY,
    selection: null,
    docName: 'Untitled',
    docPath: null,
    saved: EMPTY,
    busy: null,
    toasts: [],
    dialog: null,
    renaming: null,
    settings: null,
    transport: 'web',
    capabilities: { nativeDialogs: false, openByPath: false },
    zoom: 1,
    canUndo: false,
    canRedo: false,
    ready: false,
  }
  private listeners = new Set<() => void>()
  private past: Snapshot[] = []
  private future: Snapshot[] = []
  readonly previews = new Map<string, PreviewImage>()
  static readonly HISTORY_LIMIT = 200
  /**
   * Told the ids of images that neither the document, its saved version nor any undo/redo step
   * uses any more, so the host can free them (a 50 MP photo is hundreds of MB there). The app sets
   * it to call `asset.release`; their previews are dropped here.
   */
  onUnreferenced: ((ids: string[]) => void) | null = null
  /** Asset ids that some reachable composition used at the last collection. */
  private reachable = new Set<string>()

  getState = (): EditorState => this.state

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  set(patch: Partial<EditorState>): void {
    this.state = { ...this.state, ...patch }
    for (const l of this.listeners) l()
  }

  get dirty(): boolean {
    return this.state.composition !== this.state.saved
  }

  /**
   * Applies an edit. `capture` records the state before it as one undo step (a whole drag is one
   * commit, made when the drag ends).
   */
  commit(next: Partial<Snapshot>, capture: boolean): void {
    const before: Snapshot = { composition: this.state.composition, selection: this.state.selection }
    const composition = next.composition ?? before.composition
    if (capture && composition !== before.composition) {
      this.past.push(before)
      if (this.past.length > EditorStore.HISTORY_LIMIT) this.past.shift()
      this.future = []
    }
    this.set({ composition, selection: next.selection !== undefined ? next.selection : before.selection, ...this.historyFlags() })
    // Only a captured step can drop history (the oldest step, the redo branch).
    if (capture) this.collectAssets()
  }

  undo(): boolean {
    const prev = this.past.pop()
    if (!prev) return false
    this.future.push({ composition: this.state.composition, selection: this.state.selection })
    this.set({ ...prev, ...this.historyFlags() })
    return true
  }

  redo(): boolean {
    const next = this.future.pop()
    if (!next) return false
    this.past.push({ composition: this.state.composition, selection: this.state.selection })
    this.set({ ...next, ...this.historyFlags() })
    return true
  }

  /** A new document (opened project, sample, new): history starts over, and it is not dirty. */
  load(composition: Composition, docName: string, docPath: string | null): void {
    this.past = []
    this.future = []
    this.set({ composition, saved: composition, docName, docPath, selection: null, ...this.historyFlags() })
    this.collectAssets()
  }

  /** Finds the images nothing reachable uses any more and hands them to onUnreferenced. */
  private collectAssets(): void {
    const live = new Set<string>()
    const seen = new Set<Composition['assets']>() // steps share their assets array until one changes
    for (const c of [this.state.composition, this.state.saved, ...this.past.map((p) => p.composition), ...this.future.map((f) => f.composition)]) {
      if (seen.has(c.assets)) continue
      seen.add(c.assets)
      for (const a of c.assets) live.add(a.id)
    }
    const gone = [...this.reachable].filter((id) => !live.has(id))
    this.reachable = live
    if (gone.length === 0) return
    for (const id of gone) {
      const p = this.previews.get(id)
      if (p) URL.revokeObjectURL(p.url)
      this.previews.delete(id)
    }
    this.onUnreferenced?.(gone)
  }

  markSaved(docName: string, docPath: string | null): void {
    this.set({ saved: this.state.composition, docName, docPath })
  }

  private historyFlags() {
    return { canUndo: this.past.length > 0, canRedo: this.future.length > 0 }
  }

  addPreview(p: Preview): PreviewImage {
    const old = this.previews.get(p.assetId)
    if (old && old.width >= p.width) return old
    if (old) URL.revokeObjectURL(old.url)
    const url = URL.createObjectURL(new Blob([p.bytes as BlobPart], { type: p.mime }))
    const img = { assetId: p.assetId, url, width: p.width, height: p.height }
    this.previews.set(p.assetId, img)
    return img
  }

  toast(kind: Toast['kind'], message: string): void {
    const t = { id: ++toastSeq, kind, message }
    this.set({ toasts: [...this.state.toasts, t].slice(-4) })
    setTimeout(() => this.dismissToast(t.id), kind === 'error' ? 12000 : 4000)
  }

  dismissToast(id: number): void {
    if (this.state.toasts.some((t) => t.id === id)) this.set({ toasts: this.state.toasts.filter((t) => t.id !== id) })
  }
}

// ---- pure document edits (each returns a new Composition) ----

export function layerById(c: Composition, id: string | null): Layer | undefined {
  return id ? c.layers.find((l) => l.id === id) : undefined
}

export function updateLayer(c: Composition, id: string, patch: Partial<Layer>): Composition {
  return { ...c, layers: c.layers.map((l) => (l.id === id ? ({ ...l, ...patch } as Layer) : l)) }
}

export function updateTransform(c: Composition, id: string, patch: Partial<Transform>): Composition {
  return {
    ...c,
    layers: c.layers.map((l) => (l.id === id && l.kind !== 'photo' ? ({ ...l, transform: { ...l.transform, ...patch } } as Layer) : l)),
  }
}

export function removeLayer(c: Composition, id: string): Composition {
  // a shadow goes with its object
  return { ...c, layers: c.layers.filter((l) => l.id !== id && !(l.kind === 'shadow' && l.objectId === id)) }
}

/** Moves a layer up (+1) or down (-1) in the stack; the photo stays at the bottom. */
export function moveLayer(c: Composition, id: string, delta: number): Composition {
  const layers = [...c.layers]
  const i = layers.findIndex((l) => l.id === id)
  if (i < 0 || layers[i].kind === 'photo') return c
  const min = layers[0]?.kind === 'photo' ? 1 : 0
  const j = Math.max(min, Math.min(layers.length - 1, i + delta))
  if (j === i) return c
  const [l] = layers.splice(i, 1)
  layers.splice(j, 0, l)
  return { ...c, layers }
}

export function uniqueLayerId(c: Composition, prefix: string): string {
  const ids = new Set(c.layers.map((l) => l.id))
  for (let n = 1; ; n++) if (!ids.has(`${prefix}-${n}`)) return `${prefix}-${n}`
}

export function withAsset(c: Composition, meta: Composition['assets'][number]): Composition['assets'] {
  return c.assets.some((a) => a.id === meta.id) ? c.assets : [...c.assets, meta]
}
