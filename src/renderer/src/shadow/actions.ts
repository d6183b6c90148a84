import type { Composition, Layer, ObjectLayer, ShadowLayer } from '../../../shared/project'
import type { Client } from '../../../shared/rpc'
import { shadowIsStale, steeredTransform } from '../../../shared/shadow'
import { errorMessage } from '../api/client'
import type { Action } from '../editor/actions'
import { layerById, withAsset, type EditorStore } from '../editor/store'
import { shadowView } from './state'

/**
 * Shadow commands for the actions registry (src/renderer/src/editor/actions.ts): generate for the
 * selected object (G) or all objects (Shift+G), regenerate with painted attention maps, reset the
 * edits, attention overlay (A), compare. Generation never touches the document until the engine
 * replied: a failure or an engine crash leaves the composition as it was (a toast says why).
 */

export function shadowOf(c: Composition, objectId: string): ShadowLayer | undefined {
  return c.layers.find((l): l is ShadowLayer => l.kind === 'shadow' && l.objectId === objectId)
}

/** The object a command is about: the selected object, or the object of the selected shadow. */
export function targetObject(c: Composition, selection: string | null): ObjectLayer | undefined {
  const l = layerById(c, selection)
  if (l?.kind === 'object') return l
  if (l?.kind === 'shadow') return c.layers.find((o): o is ObjectLayer => o.kind === 'object' && o.id === l.objectId)
  return undefined
}

export function selectedShadow(c: Composition, selection: string | null): ShadowLayer | undefined {
  const l = layerById(c, selection)
  if (l?.kind === 'shadow') return l
  if (l?.kind === 'object') return shadowOf(c, l.id)
  return undefined
}

/** Puts a shadow layer into the composition: in place of the object's old shadow, or just beneath the object. */
export function insertShadow(c: Composition, layer: ShadowLayer, assets: Composition['assets']): Composition {
  let next = c
  for (const a of assets) next = { ...next, assets: withAsset(next, a) }
  const old = next.layers.findIndex((l) => l.kind === 'shadow' && l.objectId === layer.objectId)
  let layers: Layer[]
  if (old >= 0) {
    layers = next.layers.map((l, i) => (i === old ? layer : l))
  } else {
    const at = next.layers.findIndex((l) => l.id === layer.objectId)
    layers = [...next.layers.slice(0, at), layer, ...next.layers.slice(at)]
  }
  return { ...next, layers }
}

let requestSeq = 0
/** Waits for the canvas to draw the new layer and for the next painted frame. */
async function shownOnCanvas(canvas: { current: { settled: boolean } | null } | null): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (!canvas?.current || canvas.current.settled) break
    await new Promise((r) => requestAnimationFrame(r))
  }
  await new Promise((r) => requestAnimationFrame(r))
}

export async function generateShadowFor(
  store: EditorStore,
  api: Client,
  objectId: string,
  opts: { useEditedAttention?: boolean; canvas?: { current: { settled: boolean } | null } | null; select?: boolean } = {},
): Promise<boolean> {
  const t0 = performance.now()
  const before = store.getState().composition
  const object = before.layers.find((l) => l.id === objectId && l.kind === 'object')
  if (!object) return false
  const requestId = `gen-${Date.now()}-${++requestSeq}`
  shadowView.set({ generating: { requestId, objectId, label: `Generating the shadow of ${object.name}…`, fraction: 0 } })
  store.set({}) // buttons bound to actions re-check `enabled` (no second generation while one runs)
  try {
    const r = await api.call('shadow.generate', { composition: before, objectId, requestId, useEditedAttention: !!opts.useEditedAttention })
    for (const p of r.previews) store.addPreview(p)
    // The user may have edited meanwhile: insert into the CURRENT composition (one undo step).
    const now = store.getState().composition
    if (!now.layers.some((l) => l.id === objectId)) return false
    const next = insertShadow(now, r.layer, r.assets)
    store.commit({ composition: next, selection: opts.select === false ? store.getState().selection : r.layer.id }, true)
    if (r.empty) store.toast('info', `The model put no visible shadow under ${object.name} (model: ${r.engine.modelName}).`)
    for (const w of r.warnings) store.toast('info', w)
    shadowView.set({ engine: { state: 'ready', runtime: r.engine.runtime, backend: r.engine.backend, detail: r.engine.detail, modelName: r.engine.modelName }, lastTimings: r.timings })
    await shownOnCanvas(opts.canvas ?? null)
    shadowView.set({ lastClickToScreenMs: performance.now() - t0 })
    return true
  } catch (err) {
    store.toast('error', errorMessage(err))
    return false
  } finally {
    if (shadowView.get().generating?.requestId === requestId) {
      shadowView.set({ generating: null })
      store.set({})
    }
  }
}

export async function cancelGeneration(api: Client): Promise<void> {
  const g = shadowView.get().generating
  if (g) await api.call('shadow.cancel', { requestId: g.requestId }).catch(() => undefined)
}

/** Replaces a shadow layer (one undo step). */
export function editShadow(store: EditorStore, id: string, patch: (l: ShadowLayer) => ShadowLayer): void {
  const c = store.getState().composition
  const next = { ...c, layers: c.layers.map((l) => (l.id === id && l.kind === 'shadow' ? patch(l) : l)) }
  store.commit({ composition: next }, true)
}

/** Steers the light: the shadow re-projected about the contact point (src/shared/shadow.ts). */
export function steerLight(store: EditorStore, id: string, light: { angle: number; length: number } | null): void {
  editShadow(store, id, (l) => (l.source ? { ...l, source: { ...l.source, light }, transform: steeredTransform(l.source, light) } : l))
}

const objectSelected = (s: { composition: Composition; selection: string | null }) => !!targetObject(s.composition, s.selection) && s.composition.layers.some((l) => l.kind === 'photo')
const shadowSelected = (s: { composition: Composition; selection: string | null }) => !!selectedShadow(s.composition, s.selection)

export const shadowActions: Action[] = [
  {
    name: 'generateShadow',
    label: 'Generate shadow',
    shortcut: 'G',
    capture: 'never',
    enabled: (s) => objectSelected(s) && !shadowView.get().generating,
    async perform(ctx) {
      const o = targetObject(ctx.state.composition, ctx.state.selection)
      if (o) await generateShadowFor(ctx.store, ctx.api, o.id, { canvas: ctx.canvas ? { current: ctx.canvas } : null })
    },
  },
  {
    name: 'generateAllShadows',
    label: 'Generate shadows for all objects',
    shortcut: 'Shift+G',
    capture: 'never',
    enabled: (s) => s.composition.layers.some((l) => l.kind === 'object') && s.composition.layers.some((l) => l.kind === 'photo') && !shadowView.get().generating,
    async perform(ctx) {
      const ids = ctx.state.composition.layers.filter((l) => l.kind === 'object' && l.visible).map((l) => l.id)
      for (const id of ids) {
        if (!(await generateShadowFor(ctx.store, ctx.api, id, { canvas: ctx.canvas ? { current: ctx.canvas } : null, select: false }))) break
      }
    },
  },
  {
    name: 'regenerateShadowWithAttention',
    label: 'Regenerate from the corrected attention maps',
    capture: 'never',
    enabled: (s) => !!selectedShadow(s.composition, s.selection)?.source?.attentionAssetId && !shadowView.get().generating,
    async perform(ctx) {
      const sh = selectedShadow(ctx.state.composition, ctx.state.selection)
      if (sh) await generateShadowFor(ctx.store, ctx.api, sh.objectId, { useEditedAttention: true, canvas: ctx.canvas ? { current: ctx.canvas } : null })
    },
  },
  {
    name: 'resetShadow',
    label: 'Reset shadow to generated',
    capture: 'always',
    enabled: (s) => !!selectedShadow(s.composition, s.selection)?.source,
    perform(ctx) {
      const sh = selectedShadow(ctx.state.composition, ctx.state.selection)
      if (!sh?.source) return
      const reset: ShadowLayer = { ...sh, opacity: 1, edits: {}, transform: sh.source.generatedTransform, source: { ...sh.source, light: null } }
      return { composition: { ...ctx.state.composition, layers: ctx.state.composition.layers.map((l) => (l.id === sh.id ? reset : l)) } }
    },
  },
  {
    name: 'toggleAttention',
    label: 'Show attention maps',
    shortcut: 'A',
    capture: 'never',
    enabled: shadowSelected,
    perform() {
      const on = !shadowView.get().attention
      shadowView.set({ attention: on, brush: on ? 'occluderShadows' : null })
    },
  },
]

/** Object layers whose shadows were generated for another placement (the object moved since). */
export function staleShadows(c: Composition): ShadowLayer[] {
  return c.layers.filter((l): l is ShadowLayer => l.kind === 'shadow' && shadowIsStale(l, c.layers.find((o): o is ObjectLayer => o.kind === 'object' && o.id === l.objectId)))
}

/**
 * Keeps stale shadows in step when the preference asks for it: after an object stops moving, its
 * shadow is regenerated (debounced; one generation at a time).
 */
export function watchStaleShadows(store: EditorStore, api: Client, canvas: { current: { settled: boolean } | null }): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null
  const check = () => {
    const s = store.getState()
    const auto = (s.settings?.panels?.shadow as { autoRegenerate?: boolean } | undefined)?.autoRegenerate
    if (!auto || shadowView.get().generating) return
    const stale = staleShadows(s.composition)
    if (!stale.length) return
    if (timer) clearTimeout(timer)
    timer = setTimeout(async () => {
      timer = null
      for (const sh of staleShadows(store.getState().composition)) {
        if (!(await generateShadowFor(store, api, sh.objectId, { canvas, select: false }))) break
      }
    }, 400)
  }
  const unsub = store.subscribe(check)
  return () => {
    unsub()
    if (timer) clearTimeout(timer)
  }
}

