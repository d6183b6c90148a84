import type { Command } from '../command'
import { UserError } from '../../core/errors'
import { JsonFileBackend, SettingsService, defaultSettingsPath } from '../../core/settings'
import { ModelStore, type ModelEntry } from '../../engine/model-store'

const usage = `usage: umbra models <action> [arguments]

Manages the shadow models: the shipped default (read-only) and your own (fine-tuned or imported),
kept in $UMBRA_MODELS_DIR (default ~/.local/share/umbra/models). The active model is kept in the
settings ($UMBRA_SETTINGS, default ~/.config/umbra/settings.json).

  list                      models, the active one marked with *
  use NAME                  make NAME the active model
  rename NAME NEW_NAME      rename a model (not the default)
  delete NAME               delete a model (not the default); the default becomes active if it was
  export NAME DIR           copy a model folder to DIR (a new folder), checksums verified
  import DIR [NAME]         add a model folder (verified whole first; a damaged one is refused)`

function describe(e: ModelEntry): string {
  const mark = e.active ? '*' : ' '
  if (!e.manifest) return `${mark} ${e.name.padEnd(24)} (unusable: ${e.problem})`
  const m = e.manifest
  const val = (m.metrics as { validation?: { after?: { LRMSE?: number } | null } }).validation?.after?.LRMSE
  const parts = [
    `${m.inputSize}px`,
    m.baseModel ? `fine-tuned from ${m.baseModel}` : 'base',
    m.training ? `${m.training.steps} steps on ${m.training.dataCount} pairs` : 'untrained',
    typeof val === 'number' ? `val LRMSE ${val.toFixed(2)}` : '',
    e.builtin ? 'shipped, read-only' : '',
  ].filter(Boolean)
  return `${mark} ${e.name.padEnd(24)} ${parts.join(', ')}`
}

const command: Command = {
  name: 'models',
  summary: 'list, choose, rename, delete, export and import shadow models',
  usage,
  async run(argv) {
    const [action, ...args] = argv
    const store = new ModelStore(new SettingsService(new JsonFileBackend(defaultSettingsPath())))
    const need = (n: number) => {
      if (args.length < n || args.length > n + (action === 'import' ? 1 : 0)) throw new UserError('BAD_ARGS', `umbra models ${action}: wrong number of arguments\n\n${usage}`)
    }
    switch (action) {
      case 'list': {
        need(0)
        const list = await store.list()
        for (const e of list) console.log(describe(e))
        console.log(`\nmodels folder: ${store.modelsDir}`)
        return 0
      }
      case 'use': {
        need(1)
        const e = await store.use(args[0])
        console.log(`active model: ${e.name} (${e.dir})`)
        return 0
      }
      case 'rename': {
        need(2)
        const e = await store.rename(args[0], args[1])
        console.log(`renamed ${args[0]} to ${e.name}`)
        return 0
      }
      case 'delete': {
        need(1)
        await store.delete(args[0])
        console.log(`deleted ${args[0]}; active model: ${store.activeName()}`)
        return 0
      }
      case 'export': {
        need(2)
        const dir = await store.export(args[0], args[1])
        console.log(`exported ${args[0]} to ${dir}`)
        return 0
      }
      case 'import': {
        need(1)
        const e = await store.import(args[0], args[1])
        console.log(`imported ${args[0]} as ${e.name} (${e.dir}); 'umbra models use ${e.name}' makes it active`)
        return 0
      }
      default:
        throw new UserError('BAD_ARGS', `${action ? `unknown action '${action}'` : 'an action is required'}\n\n${usage}`)
    }
  },
}

export default command
