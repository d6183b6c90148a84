import type { Composition, Layer } from '../../../shared/project'
import type { FileSource, LoadedProject } from '../../../shared/api'
import type { Client } from '../../../shared/rpc'
import { errorMessage } from '../api/client'
import { matchShortcut } from './shortcuts'
import type { CanvasController } from './canvas'
import { shadowActions } from '../shadow/actions'
import { layerById, moveLayer, removeLayer, uniqueLayerId, updateLayer, updateTransform, withAsset, type EditorState, type EditorStore } from './store'

/**
 * The action registry (in the manner of excalidraw): every user command is an Action with a name,
 * a label, an optional keyboard shortcut, a perform function and an undo capture policy. Buttons,
 * menus (Electron's menu sends `menu.action` events with the name), shortcuts and tests all go
 * through `runAction`, so each command exists once.
 *
 * Capture policy: 'always' records an undo step when perform returns a new composition;
 * 'never' for view and file commands. A drag on the canvas is committed by the canvas controller
 * as one step when it ends.
 */
export type CapturePolicy = 'always' | 'never'

export interface ActionResult {
  composition?: Composition
  selection?: string | null
}

export interface ActionContext {
  store: EditorStore
  state: EditorState
  api: Client
  canvas: CanvasController | null
  /** Transport-specific file handling (dialogs or uploads/downloads). */
  files: FileHost
}

export interface Action {
  name: string
  label: string
  shortcut?: string
  /** More shortcuts for the same action (not shown). */
  altShortcuts?: string[]
  capture: CapturePolicy
  /** Whether it can run now (buttons are disabled otherwise). */
  enabled?(state: EditorState): boolean
  perform(ctx: ActionContext): ActionResult | void | Promise<ActionResult | void>
}

/** How files come in and go out: native dialogs in Electron, file inputs and downloads in a browser. */
export interface FileHost {
  /** Asks the user for files. Returns null when the browser's own picker was opened instead (its result arrives later). */
  pick(kind: 'photo' | 'object' | 'project', multiple: boolean): Promise<FileSource[] | null>
  saveProject(ctx: ActionContext, saveAs: boolean): Promise<void>
  exportImage(ctx: ActionContext, format: 'png' | 'jpeg', quality: number): Promise<void>
}

const hasSelection = (s: EditorState) => {
  const l = layerById(s.composition, s.selection)
  return !!l && l.kind !== 'photo'
}
const selectedEditable = (s: EditorState) => {
  const l = layerById(s.composition, s.selection)
  return !!l && l.kind !== 'photo' && !l.locked
}
const hasPhotoOrLayers = (s: EditorState) => s.composition.layers.length > 0

function selected(ctx: ActionContext): Layer | undefined {
  return layerById(ctx.state.composition, ctx.state.selection)
}

export const actions: Action[] = [
  {
    name: 'openPhoto',
    label: 'Open photo…',
    shortcut: 'Mod+O',
    capture: 'never',
    async perform(ctx) {
      const files = await ctx.files.pick('photo', false)
      if (files?.[0]) await openPhoto(ctx.store, ctx.api, files[0])
    },
  },
  {
    name: 'insertObject',
    label: 'Insert cut-out…',
    shortcut: 'Mod+I',
    capture: 'never',
    async perform(ctx) {
      const files = await ctx.files.pick('object', true)
      if (files?.length) await insertObjects(ctx.store, ctx.api, files)
    },
  },
  {
    name: 'openProject',
    label: 'Open project…',
    shortcut: 'Mod+Shift+O',
    capture: 'never',
    async perform(ctx) {
      const files = await ctx.files.pick('project', false)
      if (files?.[0]) await openProject(ctx.store, ctx.api, files[0])
    },
  },
  {
    name: 'saveProject',
    label: 'Save project',
    shortcut: 'Mod+S',
    capture: 'never',
    enabled: hasPhotoOrLayers,
    perform: (ctx) => ctx.files.saveProject(ctx, false),
  },
  {
    name: 'saveProjectAs',
    label: 'Save project as…',
    shortcut: 'Mod+Shift+S',
    capture: 'never',
    enabled: hasPhotoOrLayers,
    perform: (ctx) => ctx.files.saveProject(ctx, true),
  },
  {
    name: 'export',
    label: 'Export image…',
    shortcut: 'Mod+E',
    capture: 'never',
    enabled: hasPhotoOrLayers,
    perform(ctx) {
      ctx.store.set({ dialog: 'export' })
    },
  },
  {
    name: 'openSample',
    label: 'Open sample',
    capture: 'never',
    async perform(ctx) {
      await openSample(ctx.store, ctx.api)
    },
  },
  {
    name: 'undo',
    label: 'Undo',
    shortcut: 'Mod+Z',
    capture: 'never',
    enabled: (s) => s.canUndo,
    perform(ctx) {
      ctx.store.undo()
    },
  },
  {
    name: 'redo',
    label: 'Redo',
    shortcut: 'Mod+Shift+Z',
    altShortcuts: ['Mod+Y'],
    capture: 'never',
    enabled: (s) => s.canRedo,
    perform(ctx) {
      ctx.store.redo()
    },
  },
  {
    name: 'deleteLayer',
    label: 'Delete layer',
    shortcut: 'Delete',
    altShortcuts: ['Backspace'],
    capture: 'always',
    enabled: hasSelection,
    perform(ctx) {
      const l = selected(ctx)
      if (!l || l.kind === 'photo') return
      return { composition: removeLayer(ctx.state.composition, l.id), selection: null }
    },
  },
  {
    name: 'duplicateLayer',
    label: 'Duplicate layer',
    shortcut: 'Mod+D',
    capture: 'always',
    enabled: hasSelection,
    perform(ctx) {
      const l = selected(ctx)
      if (!l || l.kind !== 'object') return
      const c = ctx.state.composition
      const id = uniqueLayerId(c, 'object')
      const offset = Math.round(Math.min(c.width, c.height) * 0.03)
      const copy: Layer = { ...l, id, name: `${l.name} copy`, transform: { ...l.transform, x: l.transform.x + offset, y: l.transform.y + offset } }
      const i = c.layers.indexOf(l)
      const layers = [...c.layers.slice(0, i + 1), copy, ...c.layers.slice(i + 1)]
      return { composition: { ...c, layers }, selection: id }
    },
  },
  {
    name: 'flipHorizontal',
    label: 'Flip horizontal',
    shortcut: 'Shift+H',
    capture: 'always',
    enabled: selectedEditable,
    perform(ctx) {
      const l = selected(ctx)
      if (!l || l.kind === 'photo') return
      return { composition: updateTransform(ctx.state.composition, l.id, { flipX: !l.transform.flipX }) }
    },
  },
  {
    name: 'flipVertical',
    label: 'Flip vertical',
    shortcut: 'Shift+V',
    capture: 'always',
    enabled: selectedEditable,
    perform(ctx) {
      const l = selected(ctx)
      if (!l || l.kind === 'photo') return
      return { composition: updateTransform(ctx.state.composition, l.id, { flipY: !l.transform.flipY }) }
    },
  },
  {
    name: 'bringForward',
    label: 'Bring forward',
    shortcut: 'Mod+]',
    capture: 'always',
    enabled: hasSelection,
    perform: (ctx) => (ctx.state.selection ? { composition: moveLayer(ctx.state.composition, ctx.state.selection, +1) } : undefined),
  },
  {
    name: 'sendBackward',
    label: 'Send backward',
    shortcut: 'Mod+[',
    capture: 'always',
    enabled: hasSelection,
    perform: (ctx) => (ctx.state.selection ? { composition: moveLayer(ctx.state.composition, ctx.state.selection, -1) } : undefined),
  },
  {
    name: 'toggleVisibility',
    label: 'Show / hide layer',
    capture: 'always',
    enabled: (s) => !!layerById(s.composition, s.selection),
    perform(ctx) {
      const l = selected(ctx)
      if (l) return { composition: updateLayer(ctx.state.composition, l.id, { visible: !l.visible }) }
    },
  },
  {
    name: 'toggleLock',
    label: 'Lock / unlock layer',
    shortcut: 'Mod+L',
    capture: 'always',
    enabled: hasSelection,
    perform(ctx) {
      const l = selected(ctx)
      if (l) return { composition: updateLayer(ctx.state.composition, l.id, { locked: !l.locked }) }
    },
  },
  {
    name: 'renameLayer',
    label: 'Rename layer',
    shortcut: 'F2',
    capture: 'never',
    enabled: (s) => !!layerById(s.composition, s.selection),
    perform(ctx) {
      ctx.store.set({ renaming: ctx.state.selection })
    },
  },
  {
    name: 'deselect',
    label: 'Deselect',
    shortcut: 'Escape',
    capture: 'never',
    perform(ctx) {
      ctx.store.set({ selection: null, dialog: null, renaming: null })
    },
  },
  ...(['Left', 'Right', 'Up', 'Down'] as const).flatMap((dir): Action[] =>
    [1, 10].map((step) => ({
      name: `nudge${dir}${step === 10 ? 'Far' : ''}`,
      label: `Nudge ${dir.toLowerCase()}${step === 10 ? ' (10 px)' : ''}`,
      shortcut: `${step === 10 ? 'Shift+' : ''}Arrow${dir}`,
      capture: 'always' as const,
      enabled: selectedEditable,
      perform(ctx: ActionContext) {
        const l = selected(ctx)
        if (!l || l.kind === 'photo') return
        const dx = dir === 'Left' ? -step : dir === 'Right' ? step : 0
        const dy = dir === 'Up' ? -step : dir === 'Down' ? step : 0
        return { composition: updateTransform(ctx.state.composition, l.id, { x: l.transform.x + dx, y: l.transform.y + dy }) }
      },
    })),
  ),
  { name: 'zoomIn', label: 'Zoom in', shortcut: 'Mod+=', capture: 'never', perform: (ctx) => ctx.canvas?.zoomBy(1.25) },
  { name: 'zoomOut', label: 'Zoom out', shortcut: 'Mod+-', capture: 'never', perform: (ctx) => ctx.canvas?.zoomBy(0.8) },
  { name: 'zoomFit', label: 'Fit to window', shortcut: 'Mod+0', capture: 'never', perform: (ctx) => ctx.canvas?.zoomFit() },
  { name: 'zoom100', label: 'Actual pixels (100%)', shortcut: 'Mod+1', capture: 'never', perform: (ctx) => ctx.canvas?.zoomTo(1) },
  // Shadow generation and editing (issue 5): src/renderer/src/shadow/actions.ts
  ...shadowActions,
]

export const actionsByName = new Map(actions.map((a) => [a.name, a]))

/** Runs an action by name, applying its result with its capture policy; errors become toasts. */
export async function runAction(name: string, ctx: Omit<ActionContext, 'state'>): Promise<void> {
  const action = actionsByName.get(name)
  if (!action) return
  const state = ctx.store.getState()
  if (action.enabled && !action.enabled(state)) return
  try {
    const result = await action.perform({ ...ctx, state })
    if (result && (result.composition || result.selection !== undefined)) {
      ctx.store.commit(result, action.capture === 'always')
    }
  } catch (err) {
    ctx.store.toast('error', errorMessage(err))
  }
}

export function actionForKey(e: KeyboardEvent): Action | undefined {
  return actions.find((a) => [a.shortcut, ...(a.altShortcuts ?? [])].some((s) => s && matchShortcut(s, e)))
}

// ---- file commands shared by actions, drag and drop and recent files ----

async function busy<T>(store: EditorStore, label: string, work: () => Promise<T>): Promise<T | undefined> {
  store.set({ busy: label })
  try {
    return await work()
  } catch (err) {
    // The composition is untouched: state only changes after a successful reply.
    store.toast('error', errorMessage(err))
    return undefined
  } finally {
    store.set({ busy: null })
  }
}

function sourceName(s: FileSource): string {
  return s.type === 'bytes' ? s.name : (s.path.split(/[\\/]/).pop() ?? s.path)
}

/** Opens a background photo: replaces the photo layer (undoable), keeps the objects. */
export async function openPhoto(store: EditorStore, api: Client, source: FileSource): Promise<void> {
  await busy(store, `Opening ${sourceName(source)}…`, async () => {
    const { asset, preview } = await api.call('asset.import', { role: 'photo', source })
    store.addPreview(preview)
    const c = store.getState().composition
    const photo: Layer = { kind: 'photo', id: 'photo', name: asset.name, assetId: asset.id, visible: true, locked: false, opacity: 1 }
    const rest = c.layers.filter((l) => l.kind !== 'photo')
    const next: Composition = { width: asset.width, height: asset.height, layers: [photo, ...rest], assets: withAsset(c, asset) }
    if (c.layers.length === 0) {
      store.load(next, asset.name.replace(/\.[^.]+$/, ''), null)
    } else store.commit({ composition: next }, true)
    void refreshSettings(store, api)
  })
}

/** Inserts cut-outs, each as a layer in the middle of the photo, at most 60% of its height. */
export async function insertObjects(store: EditorStore, api: Client, sources: FileSource[]): Promise<void> {
  for (const source of sources) {
    await busy(store, `Inserting ${sourceName(source)}…`, async () => {
      const { asset, preview } = await api.call('asset.import', { role: 'object', source })
      store.addPreview(preview)
      const c = store.getState().composition
      const hasPhoto = c.layers.some((l) => l.kind === 'photo')
      const base = hasPhoto ? c : { ...c, width: Math.max(c.width, asset.width), height: Math.max(c.height, asset.height) }
      const scale = Math.min(1, (base.height * 0.6) / asset.height, (base.width * 0.6) / asset.width)
      const id = uniqueLayerId(c, 'object')
      const layer: Layer = {
        kind: 'object',
        id,
        name: asset.name.replace(/\.[^.]+$/, ''),
        assetId: asset.id,
        visible: true,
        locked: false,
        opacity: 1,
        transform: { x: base.width / 2, y: base.height / 2, scaleX: scale, scaleY: scale, angle: 0, flipX: false, flipY: false },
      }
      store.commit({ composition: { ...base, layers: [...c.layers, layer], assets: withAsset(c, asset) }, selection: id }, true)
      if (!asset.hasAlpha) store.toast('info', `${asset.name} has no transparency: it is inserted as a rectangle`)
      void refreshSettings(store, api)
    })
  }
}

export function applyLoadedProject(store: EditorStore, p: LoadedProject): void {
  for (const prev of p.previews) store.addPreview(prev)
  store.load(p.composition, p.name.replace(/\.umbra$/i, ''), p.path ?? null)
  for (const note of p.notes) store.toast('info', note)
}

export async function openProject(store: EditorStore, api: Client, source: FileSource): Promise<void> {
  await busy(store, `Opening ${sourceName(source)}…`, async () => {
    const p = await api.call('project.open', { source })
    applyLoadedProject(store, p)
    void refreshSettings(store, api)
  })
}

export async function openSample(store: EditorStore, api: Client): Promise<void> {
  await busy(store, 'Opening the sample…', async () => {
    applyLoadedProject(store, await api.call('project.sample', {}))
    void refreshSettings(store, api)
  })
}

export async function openRecent(store: EditorStore, api: Client, path: string, kind: 'photo' | 'object' | 'project'): Promise<void> {
  const source: FileSource = { type: 'path', path }
  if (kind === 'project') await openProject(store, api, source)
  else if (kind === 'photo') await openPhoto(store, api, source)
  else await insertObjects(store, api, [source])
}

export async function refreshSettings(store: EditorStore, api: Client): Promise<void> {
  try {
    store.set({ settings: await api.call('settings.get', {}) })
  } catch {
    /* settings are a convenience */
  }
}
