import { promises as fs } from 'node:fs'
import { spawn } from 'node:child_process'
import { UserError } from '../core/errors'
import { BatchJobHost } from '../jobs/batch/host'
import { parsePlacement } from '../jobs/batch/placement'
import { activeModelDirSync } from '../engine/model-store'
import type { BatchOptions } from '../jobs/batch/types'
import type { BatchSettings } from '../shared/batch'
import type { AppContext } from './context'
import type { Handlers } from './dispatch'

/**
 * The Batch panel's handlers (issue 6). The job runs in its own worker thread (BatchJobHost), its
 * items in that thread's worker pool: the app's loop only relays small messages, so the editor
 * stays responsive. Progress reaches the renderer as `batch.state` and `batch.item` events.
 */
const hosts = new WeakMap<AppContext, BatchJobHost>()

export function batchHostFor(ctx: AppContext): BatchJobHost {
  let host = hosts.get(ctx)
  if (!host) {
    host = new BatchJobHost(ctx.appVersion, {
      onState: (state) => ctx.emit?.('batch.state', state),
      onItem: (jobId, row) => ctx.emit?.('batch.item', { jobId, row }),
    })
    hosts.set(ctx, host)
  }
  return host
}

async function isFolder(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
}

/** Checks the panel's settings and turns them into the job's options. */
/** `defaultModelDir`: the app's model when the settings name none (undefined = resources/models/default). */
export async function batchOptionsFrom(s: BatchSettings, defaultModelDir?: string): Promise<BatchOptions> {
  if (!s.inDir.trim()) throw new UserError('BAD_ARGS', 'choose the input folder')
  if (!s.outDir.trim()) throw new UserError('BAD_ARGS', 'choose the output folder')
  if (!(await isFolder(s.inDir))) throw new UserError('NOT_FOUND', `the input folder ${s.inDir} does not exist`)
  if (s.mode === 'cutouts' && !s.background.trim()) throw new UserError('BAD_ARGS', 'cut-out mode needs a background photo')
  return {
    inDir: s.inDir,
    outDir: s.outDir,
    background: s.mode === 'cutouts' ? s.background : undefined,
    place: s.mode === 'cutouts' ? parsePlacement(s.place) : undefined,
    recursive: s.recursive,
    format: s.format === 'same' ? undefined : s.format,
    quality: s.quality,
    layers: s.layers,
    projects: s.projects,
    force: s.force,
    modelDir: s.modelDir.trim() || defaultModelDir || undefined,
    thumbnailSize: 96,
  }
}

/** Opens a folder in the system's file manager (the app runs on the user's machine, web bridge included). */
function openInFileManager(path: string): Promise<boolean> {
  const [cmd, args] = process.platform === 'darwin' ? ['open', [path]] : process.platform === 'win32' ? ['explorer', [path]] : ['xdg-open', [path]]
  return new Promise((resolve) => {
    try {
      const child = spawn(cmd, args, { stdio: 'ignore', detached: true })
      child.once('error', () => resolve(false))
      child.once('spawn', () => {
        child.unref()
        resolve(true)
      })
    } catch {
      resolve(false)
    }
  })
}

export function createBatchHandlers(ctx: AppContext): Handlers {
  const host = () => batchHostFor(ctx)
  return {
    'batch.start': async (settings) => {
      if (!ctx.capabilities.openByPath) throw new UserError('NOT_AVAILABLE', 'batch needs folders on this machine, which this version of the editor cannot reach')
      // The same model as the editor's engine: $UMBRA_MODEL_DIR, else the model chosen in the model manager.
      const options = await batchOptionsFrom(settings, process.env.UMBRA_MODEL_DIR || activeModelDirSync(ctx.settings))
      // Remembered for the next start of the panel.
      await ctx.settings.update({ panels: { batch: settings }, lastFolders: { batchIn: settings.inDir, batchOut: settings.outDir } })
      return host().start(settings, options)
    },
    'batch.control': async ({ jobId, action }) => host().control(jobId, action),
    'batch.status': async () => ({ job: host().status() }),
    'batch.thumbnail': async ({ jobId, index }) => ({ bytes: host().thumbnail(jobId, index) }),
    'batch.openFolder': async ({ path }) => {
      if (!(await isFolder(path))) throw new UserError('NOT_FOUND', `${path} does not exist`)
      return { opened: await openInFileManager(path) }
    },
  }
}
