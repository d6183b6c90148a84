import type { ApiResponse, EngineStatus as ApiEngineStatus, Preview } from '../shared/api'
import type { AssetMeta, Composition, ObjectLayer, ShadowLayer } from '../shared/project'
import { UserError } from '../core/errors'
import { steeredTransform } from '../shared/shadow'
import type { EngineStatus } from '../jobs/engine/host'
import type { AppContext } from './context'
import type { Handlers } from './dispatch'

/**
 * Shadow generation handlers (issue 5): they gather what the engine process needs from the
 * composition and the asset store (original bytes, transforms), call it, and turn its reply into a
 * shadow layer with its assets. The composition itself is never changed here: the editor inserts
 * the layer (one undo step), so a failure or a crash of the engine leaves the document untouched.
 */
export function toApiEngineStatus(s: EngineStatus): ApiEngineStatus {
  if (s.state === 'ready') return { state: 'ready', runtime: s.info.runtime, backend: s.info.backend, detail: s.info.detail, modelName: s.info.modelName }
  if (s.state === 'crashed') return { state: 'crashed', message: s.message }
  return { state: s.state }
}

export function createShadowHandlers(ctx: AppContext): Handlers {
  const running = new Map<string, AbortController>()
  ctx.engine?.onStatus((s) => ctx.emit?.('engine.status', toApiEngineStatus(s)))

  function engine() {
    if (!ctx.engine) throw new UserError('NOT_AVAILABLE', 'shadow generation is not available in this version of the editor')
    return ctx.engine
  }

  async function store(bytes: Uint8Array, name: string): Promise<{ asset: AssetMeta; preview: Preview }> {
    const side = ctx.settings.get().preferences.previewMaxSide
    const { meta, preview } = await ctx.assets.add(bytes, name, side)
    return { asset: meta, preview: { assetId: meta.id, width: preview.width, height: preview.height, mime: preview.mime, bytes: preview.bytes } }
  }

  return {
    'shadow.generate': async ({ composition, objectId, requestId, useEditedAttention }): Promise<ApiResponse<'shadow.generate'>> => {
      const host = engine()
      const c: Composition = composition
      const object = c.layers.find((l): l is ObjectLayer => l.kind === 'object' && l.id === objectId)
      if (!object) throw new UserError('NO_OBJECT', 'select a cut-out layer to generate its shadow')
      const photo = c.layers.find((l) => l.kind === 'photo')
      if (!photo) throw new UserError('NO_PHOTO', 'open a background photo first: the shadow falls on it')
      const bytes = (id: string) => ctx.assets.get(id).bytes
      const scene = c.layers
        .filter((l): l is ObjectLayer => l.kind === 'object' && l.id !== objectId && l.visible)
        .map((l) => ({ image: { id: l.assetId, bytes: bytes(l.assetId) }, transform: l.transform, opacity: l.opacity }))
      const previous = c.layers.find((l): l is ShadowLayer => l.kind === 'shadow' && l.objectId === objectId)
      let attention: { png: Uint8Array; rect: { x: number; y: number; width: number; height: number } } | undefined
      if (useEditedAttention) {
        const src = previous?.source
        if (!src?.attentionAssetId || !src.attentionRect) throw new UserError('NO_ATTENTION', 'this shadow has no attention maps to regenerate from: generate it first')
        attention = { png: bytes(src.attentionAssetId), rect: src.attentionRect }
      }
      // A steered light stays steered: the model casts that way (cast-frame models; others ignore
      // it and the layer is turned as before), and the length the user chose is kept.
      const light = previous?.source?.light ?? null
      const abort = new AbortController()
      running.set(requestId, abort)
      try {
        const r = await host.call(
          'generate',
          {
            photo: { id: photo.assetId, bytes: bytes(photo.assetId) },
            scene,
            object: { image: { id: object.assetId, bytes: bytes(object.assetId) }, transform: object.transform },
            attention,
            castAngle: light ? (light.angle * Math.PI) / 180 : undefined,
          },
          { signal: abort.signal, onProgress: (p) => ctx.emit?.('engine.progress', { requestId, ...p }) },
        )
        const layerImg = await store(r.layerPng, `${object.name} shadow.png`)
        // Painted maps stay as the user painted them; otherwise the maps the model predicted now.
        const att = attention && previous?.source?.attentionAssetId ? null : await store(r.attentionPng, `${object.name} attention.png`)
        const generatedTransform = {
          x: r.rect.x + r.rect.width / 2,
          y: r.rect.y + r.rect.height / 2,
          scaleX: r.rect.width / r.layerWidth,
          scaleY: r.rect.height / r.layerHeight,
          angle: 0,
          flipX: false,
          flipY: false,
        }
        const source: NonNullable<ShadowLayer['source']> = {
          objectTransform: object.transform,
          generatedTransform,
          contact: r.contact,
          castAngle: r.castAngle,
          castLength: r.castLength,
          light,
          ...(r.lightOrigin ? { lightOrigin: r.lightOrigin } : {}),
          attentionAssetId: att ? att.asset.id : previous?.source?.attentionAssetId,
          attentionRect: att ? r.attentionRect : previous?.source?.attentionRect,
          attentionEdited: !att,
          model: r.engine.modelName,
          backend: `${r.engine.runtime} (${r.engine.backend})`,
        }
        const layer: ShadowLayer = {
          kind: 'shadow',
          id: previous?.id ?? uniqueShadowId(c, objectId),
          name: `${object.name} shadow`,
          visible: previous?.visible ?? true,
          locked: false,
          opacity: previous?.opacity ?? 1,
          objectId,
          assetId: layerImg.asset.id,
          transform: steeredTransform(source, light),
          blend: 'multiply',
          source,
          // Regenerating keeps the look the user chose (density, softness, tint) but not the brush
          // or skew, which were made for the old pixels.
          edits: previous?.edits ? { density: previous.edits.density, softness: previous.edits.softness, tint: previous.edits.tint } : {},
        }
        const assets = [layerImg.asset, ...(att ? [att.asset] : [])]
        const previews = [layerImg.preview, ...(att ? [att.preview] : [])]
        return {
          layer,
          assets,
          previews,
          empty: r.empty,
          warnings: r.warnings,
          engine: { runtime: r.engine.runtime, backend: r.engine.backend, detail: r.engine.detail, modelName: r.engine.modelName },
          timings: r.timings,
        }
      } finally {
        running.delete(requestId)
      }
    },
    'shadow.cancel': async ({ requestId }) => {
      const a = running.get(requestId)
      a?.abort()
      return { cancelled: !!a }
    },
    'shadow.putImage': async ({ name, bytes }) => store(bytes, name),
    'engine.status': async ({ load }) => {
      const host = engine()
      if (load) {
        try {
          await host.call('load', {})
        } catch (err) {
          if (err instanceof UserError) return { state: 'unavailable', message: err.message }
          throw err
        }
      }
      return toApiEngineStatus(host.status)
    },
    'engine.crash': async () => {
      await engine()
        .call('crash', {})
        .catch(() => undefined)
      return {}
    },
  }
}

function uniqueShadowId(c: Composition, objectId: string): string {
  const ids = new Set(c.layers.map((l) => l.id))
  for (let n = 1; ; n++) {
    const id = n === 1 ? `${objectId}-shadow` : `${objectId}-shadow-${n}`
    if (!ids.has(id)) return id.slice(0, 64)
  }
}
