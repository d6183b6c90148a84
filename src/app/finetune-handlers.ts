import { promises as fs } from 'node:fs'
import { UserError } from '../core/errors'
import { DEFAULT_MODEL_NAME, ModelStore, type ModelEntry } from '../engine/model-store'
import { readModelManifest } from '../engine/model-dir'
import { FinetuneJobHost } from '../jobs/finetune/host'
import { checkPairFolder } from '../jobs/finetune/pairs'
import { summarizeReport } from '../jobs/finetune/run-state'
import type { ModelList } from '../shared/finetune'
import type { AppContext } from './context'
import type { Handlers } from './dispatch'

/**
 * The Fine-tune panel's handlers and the model manager's (issue 7). Training runs in its own
 * worker thread (FinetuneJobHost): this loop only relays small messages. Progress reaches the
 * renderer as `finetune.state` events. Models live in the model store's folder
 * ($UMBRA_MODELS_DIR, default ~/.local/share/umbra/models); the active one is kept in settings and
 * the shadow engine restarts on it at its next use.
 */
const hosts = new WeakMap<AppContext, { store: ModelStore; host: FinetuneJobHost }>()

function partsFor(ctx: AppContext): { store: ModelStore; host: FinetuneJobHost } {
  let parts = hosts.get(ctx)
  if (!parts) {
    const store = new ModelStore(ctx.settings)
    parts = { store, host: new FinetuneJobHost(store, { onState: (s) => ctx.emit?.('finetune.state', s) }) }
    hosts.set(ctx, parts)
  }
  return parts
}

function info(e: ModelEntry): ModelList['models'][number] {
  const m = e.manifest
  const after = (m?.metrics as { validation?: { after?: { LRMSE?: unknown } | null } } | undefined)?.validation?.after?.LRMSE
  return {
    name: e.name,
    builtin: e.builtin,
    active: e.active,
    baseModel: m?.baseModel ?? null,
    inputSize: m?.inputSize ?? null,
    steps: m?.training?.steps ?? null,
    lrmse: typeof after === 'number' ? after : null,
    problem: e.problem ?? null,
  }
}

async function modelList(store: ModelStore): Promise<ModelList> {
  return { models: (await store.list()).map(info), active: store.activeName() }
}

async function isFolder(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
}

export function createFinetuneHandlers(ctx: AppContext): Handlers {
  const parts = () => partsFor(ctx)
  const needFolders = () => {
    if (!ctx.capabilities.openByPath) throw new UserError('NOT_AVAILABLE', 'fine-tuning needs folders on this machine, which this version of the editor cannot reach')
  }
  /** The model to start from: by name, else the active one; its folder and name. */
  async function fromModel(name: string): Promise<{ dir: string; name: string }> {
    const { store } = parts()
    if (name) {
      const e = await store.get(name)
      if (!e.manifest) throw new UserError('MODEL_CORRUPT', `model '${name}' cannot be used: ${e.problem}`)
      return { dir: e.dir, name: e.manifest.name }
    }
    const active = await store.activeDir()
    const manifest = await readModelManifest(active.dir).catch(() => {
      throw new UserError('NO_MODEL', active.name === DEFAULT_MODEL_NAME ? 'the shipped default model is not installed: choose a model to start from' : `the active model '${active.name}' cannot be read`)
    })
    return { dir: active.dir, name: manifest.name }
  }

  return {
    'finetune.check': async ({ pairsDir }) => {
      needFolders()
      if (!pairsDir.trim()) throw new UserError('BAD_ARGS', 'choose the folder of pairs')
      if (!(await isFolder(pairsDir))) throw new UserError('NOT_FOUND', `the folder ${pairsDir} does not exist`)
      const from = await fromModel('').catch(() => null)
      const size = from ? (await readModelManifest(from.dir)).inputSize : 128
      await ctx.settings.update({ lastFolders: { pairs: pairsDir } })
      return summarizeReport(await checkPairFolder(pairsDir, Math.round(size * 1.25)))
    },
    'finetune.start': async (settings) => {
      needFolders()
      if (!settings.pairsDir.trim()) throw new UserError('BAD_ARGS', 'choose the folder of pairs')
      if (!(await isFolder(settings.pairsDir))) throw new UserError('NOT_FOUND', `the folder ${settings.pairsDir} does not exist`)
      if (!settings.name.trim()) throw new UserError('BAD_ARGS', 'give the new model a name')
      const from = await fromModel(settings.from)
      await ctx.settings.update({ panels: { finetune: settings }, lastFolders: { pairs: settings.pairsDir } })
      return parts().host.start(settings, from.dir, from.name)
    },
    'finetune.control': async ({ jobId, action }) => parts().host.control(jobId, action),
    'finetune.resume': async ({ name, save }) => parts().host.resume(name, { saveNow: save }),
    'finetune.status': async () => ({ job: parts().host.status(), resumable: await parts().host.resumable() }),
    'finetune.preview': async ({ jobId }) => ({ bytes: await parts().host.preview(jobId) }),
    'models.list': async () => modelList(parts().store),
    'models.use': async ({ name }) => {
      const { store } = parts()
      const e = await store.get(name)
      if (!e.manifest) throw new UserError('MODEL_CORRUPT', `model '${name}' cannot be used: ${e.problem}`)
      // The engine worker reads the active model when it starts: end the warm one (refused mid-shadow).
      ctx.engine?.reset()
      await store.use(name)
      return modelList(store)
    },
  }
}
