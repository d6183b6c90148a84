import { promises as fs } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { z } from 'zod'
import type { FileSource, LoadedProject, Preview } from '../shared/api'
import { layerAssetIds, PROJECT_FORMAT_VERSION, type AssetMeta, type Composition, type Layer } from '../shared/project'
import { readUserFile } from '../core/assets'
import { renderComposition } from '../core/compose'
import { UserError } from '../core/errors'
import { writeFileAtomic } from '../core/atomic'
import { decodeProject, encodeProject } from '../core/project-file'
import type { AppContext } from './context'
import type { Handlers } from './dispatch'
import { createShadowHandlers } from './shadow-handlers'
import { createBatchHandlers } from './batch-handlers'
import { createFinetuneHandlers } from './finetune-handlers'

/**
 * The API handlers: plain async functions `(request) => response` over the core modules. The same
 * object is registered on ipcMain (src/main) and on the web bridge (src/web). Transport-specific
 * methods (native dialogs) are added by the host.
 */
export function createHandlers(ctx: AppContext): Handlers {
  const previewSide = () => ctx.settings.get().preferences.previewMaxSide

  async function readSource(source: FileSource): Promise<{ bytes: Uint8Array; name: string; path?: string }> {
    if (source.type === 'bytes') return { bytes: source.bytes, name: source.name }
    if (!ctx.capabilities.openByPath) throw new UserError('NOT_AVAILABLE', 'opening files by path is not available here')
    const bytes = await readUserFile(source.path)
    return { bytes, name: basename(source.path), path: source.path }
  }

  async function remember(path: string | undefined, kind: 'photo' | 'object' | 'project', name: string) {
    if (!path) return
    await ctx.settings.addRecent({ path, kind, name })
    await ctx.settings.update({ lastFolders: { [kind]: dirname(path) } })
  }

  function toPreview(assetId: string, p: { width: number; height: number; mime: Preview['mime']; bytes: Uint8Array }): Preview {
    return { assetId, width: p.width, height: p.height, mime: p.mime, bytes: p.bytes }
  }

  async function previewsFor(c: Composition): Promise<Preview[]> {
    const ids = [...new Set(c.layers.flatMap(layerAssetIds))]
    return Promise.all(ids.map(async (id) => toPreview(id, await ctx.assets.preview(id, previewSide()))))
  }

  const bytesOf = (id: string) => ctx.assets.get(id).bytes

  function checkAssetsLoaded(c: Composition) {
    for (const l of c.layers) {
      for (const id of layerAssetIds(l)) {
        if (!ctx.assets.has(id)) {
          const name = c.assets.find((a) => a.id === id)?.name ?? id
          throw new UserError('MISSING_IMAGE', `the image '${name}' of layer '${l.name}' is no longer loaded; reopen it`)
        }
      }
    }
  }

  async function loadProjectBytes(bytes: Uint8Array, name: string, path?: string): Promise<LoadedProject> {
    const { document, images, notes } = decodeProject(bytes, name)
    // Only touch the store once the whole file has been checked: a bad file leaves everything as it was.
    for (const meta of document.composition.assets) {
      const img = images.get(meta.id)
      if (img) ctx.assets.put(meta, new Uint8Array(img))
    }
    const previews = await previewsFor(document.composition)
    return { composition: document.composition, previews, path, name, notes }
  }

  return {
    ...createShadowHandlers(ctx),
    ...createBatchHandlers(ctx),
    ...createFinetuneHandlers(ctx),
    'app.hello': async () => ({
      appVersion: ctx.appVersion,
      projectFormatVersion: PROJECT_FORMAT_VERSION,
      transport: ctx.transport,
      capabilities: ctx.capabilities,
      settings: ctx.settings.get(),
      sampleAvailable: await exists(join(ctx.samplesDir, 'sample.json')),
    }),
    'app.documentState': async (req) => {
      ctx.onDocumentState?.(req)
      return {}
    },
    'app.close': async () => {
      ctx.close?.()
      return {}
    },
    'settings.get': async () => ctx.settings.get(),
    'settings.update': async (patch) => ctx.settings.update(patch),
    'recent.clear': async () => ctx.settings.clearRecent(),

    'asset.import': async ({ role, source }) => {
      const file = await readSource(source)
      const { meta, preview } = await ctx.assets.add(file.bytes, file.name, previewSide())
      await remember(file.path, role, file.name)
      return { asset: meta, preview: toPreview(meta.id, preview) }
    },
    'asset.release': async ({ ids }) => ({ released: ctx.assets.release(ids) }),

    'project.sample': async () => {
      const sample = await loadSample(ctx)
      const previews = await previewsFor(sample)
      await ctx.settings.update({ preferences: { openSampleOnStart: false } })
      return { composition: sample, previews, name: 'Sample', notes: [] }
    },
    'project.open': async ({ source }) => {
      const file = await readSource(source)
      const loaded = await loadProjectBytes(file.bytes, file.name, file.path)
      await remember(file.path, 'project', file.name)
      return loaded
    },
    'project.encode': async ({ composition }) => {
      checkAssetsLoaded(composition)
      return { bytes: encodeProject(composition, bytesOf, ctx.appVersion) }
    },
    'project.saveToPath': async ({ composition, path }) => {
      checkAssetsLoaded(composition)
      const target = path.toLowerCase().endsWith('.umbra') ? path : `${path}.umbra`
      await writeFileAtomic(target, encodeProject(composition, bytesOf, ctx.appVersion))
      await remember(target, 'project', basename(target))
      return { path: target, name: basename(target) }
    },

    'export.render': async ({ composition, options }) => {
      checkAssetsLoaded(composition)
      const out = await renderComposition(composition, bytesOf, options)
      return { bytes: out.data, mime: options.format === 'png' ? 'image/png' : 'image/jpeg', width: out.width, height: out.height }
    },
    'export.toPath': async ({ composition, options, path }) => {
      checkAssetsLoaded(composition)
      const out = await renderComposition(composition, bytesOf, options)
      await writeFileAtomic(path, out.data)
      await ctx.settings.update({ lastFolders: { export: dirname(path) }, preferences: { exportFormat: options.format, jpegQuality: options.quality } })
      return { path, width: out.width, height: out.height }
    },
  }
}

async function exists(path: string): Promise<boolean> {
  return fs.access(path).then(
    () => true,
    () => false,
  )
}

const SampleSpec = z.object({
  photo: z.object({ file: z.string(), name: z.string() }),
  objects: z.array(
    z.object({
      file: z.string(),
      name: z.string(),
      /** Centre as fractions of the photo's width and height. */
      at: z.tuple([z.number(), z.number()]),
      /** Object height as a fraction of the photo's height. */
      height: z.number().positive(),
      flipX: z.boolean().default(false),
    }),
  ),
})

/** Builds the sample composition described by resources/samples/sample.json. */
async function loadSample(ctx: AppContext): Promise<Composition> {
  let spec: z.infer<typeof SampleSpec>
  try {
    spec = SampleSpec.parse(JSON.parse(await fs.readFile(join(ctx.samplesDir, 'sample.json'), 'utf8')))
  } catch (err) {
    throw new UserError('NO_SAMPLE', `the bundled sample cannot be read (${(err as Error).message})`)
  }
  const side = ctx.settings.get().preferences.previewMaxSide
  const photo = await ctx.assets.add(await readUserFile(join(ctx.samplesDir, spec.photo.file)), spec.photo.file, side)
  const assets: AssetMeta[] = [photo.meta]
  const layers: Layer[] = [{ kind: 'photo', id: 'photo', name: spec.photo.name, assetId: photo.meta.id, visible: true, locked: false, opacity: 1 }]
  let n = 0
  for (const o of spec.objects) {
    const obj = await ctx.assets.add(await readUserFile(join(ctx.samplesDir, o.file)), o.file, side)
    assets.push(obj.meta)
    const scale = (o.height * photo.meta.height) / obj.meta.height
    layers.push({
      kind: 'object',
      id: `object-${++n}`,
      name: o.name,
      assetId: obj.meta.id,
      visible: true,
      locked: false,
      opacity: 1,
      transform: { x: o.at[0] * photo.meta.width, y: o.at[1] * photo.meta.height, scaleX: scale, scaleY: scale, angle: 0, flipX: o.flipX, flipY: false },
    })
  }
  return { width: photo.meta.width, height: photo.meta.height, layers, assets }
}
