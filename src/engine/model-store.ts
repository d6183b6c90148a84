/**
 * The model manager: the shadow models a user has (their models folder) plus the read-only default
 * shipped with the app (resources/models/default), and which one is active (kept in settings,
 * under panels.models.active).
 *
 * Every model is a model folder (model-dir.ts). Imports are verified whole (manifest, checksums of
 * every file, the files a model needs) before anything is copied, copied under a temp name,
 * verified again and renamed into place: a broken import leaves nothing behind. The default model
 * can never be deleted, renamed or overwritten, and no user model may take its name.
 */
import { existsSync, promises as fs } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { UserError } from '../core/errors'
import { tempPathFor, writeDirAtomic, writeFileAtomic } from '../core/atomic'
import type { SettingsStore } from '../core/settings'
import { defaultModelDir, MANIFEST_FILE, ONNX_FILE, readModelManifest, TFJS_TOPOLOGY_FILE, TFJS_WEIGHTS_FILE, verifyModelDir, type ModelManifest } from './model-dir'

export const DEFAULT_MODEL_NAME = 'default'
const SETTINGS_KEY = 'models'
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const REQUIRED_FILES = [TFJS_TOPOLOGY_FILE, TFJS_WEIGHTS_FILE, ONNX_FILE]

export interface ModelEntry {
  name: string
  dir: string
  /** The shipped default: read-only. */
  builtin: boolean
  active: boolean
  /** null when the folder cannot be read as a model (then `problem` says why). */
  manifest: ModelManifest | null
  problem?: string
}

/** $UMBRA_MODELS_DIR, else $XDG_DATA_HOME/umbra/models (~/.local/share/umbra/models). */
export function defaultModelsDir(): string {
  if (process.env.UMBRA_MODELS_DIR) return resolve(process.env.UMBRA_MODELS_DIR)
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share')
  return join(base, 'umbra', 'models')
}

export function checkModelName(name: string): string {
  if (!NAME_RE.test(name) || name === '.' || name === '..') {
    throw new UserError('BAD_NAME', `'${name}' is not a usable model name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  if (name.toLowerCase().endsWith('.run')) {
    throw new UserError('BAD_NAME', `'${name}': names ending in .run are kept for fine-tune run folders`)
  }
  if (name.toLowerCase() === DEFAULT_MODEL_NAME) {
    throw new UserError('PROTECTED', `'${DEFAULT_MODEL_NAME}' is the shipped model's name and cannot be used for another model`)
  }
  return name
}

/** A folder-safe model name from any text (manifest names, folder names). */
export function slugModelName(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 64)
  return slug || 'model'
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  )
}

/** Fully verifies a model folder: manifest, checksums of every file, and the files a model needs. */
export async function validateModelFolder(dir: string): Promise<ModelManifest> {
  const manifest = await verifyModelDir(dir)
  const missing = REQUIRED_FILES.filter((f) => !manifest.files[f])
  if (missing.length) throw new UserError('MODEL_CORRUPT', `${dir} is not a complete model: its manifest lists no ${missing.join(', ')}`)
  return manifest
}

async function copyDir(from: string, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true })
  for (const name of await fs.readdir(from)) {
    const src = join(from, name)
    const st = await fs.lstat(src)
    if (st.isDirectory()) await copyDir(src, join(to, name))
    else if (st.isFile()) await fs.copyFile(src, join(to, name))
    // links and special files are not part of a model folder: skipped
  }
}

export class ModelStore {
  readonly modelsDir: string
  readonly defaultDir: string

  constructor(
    private readonly settings: SettingsStore,
    opts: { modelsDir?: string; defaultDir?: string } = {},
  ) {
    this.modelsDir = resolve(opts.modelsDir ?? defaultModelsDir())
    this.defaultDir = resolve(opts.defaultDir ?? defaultModelDir())
  }

  /** The active model's name as stored (default when none was chosen). */
  activeName(): string {
    const panel = this.settings.get().panels[SETTINGS_KEY] as { active?: unknown } | undefined
    return typeof panel?.active === 'string' && panel.active ? panel.active : DEFAULT_MODEL_NAME
  }

  private dirOf(name: string): string {
    return name === DEFAULT_MODEL_NAME ? this.defaultDir : join(this.modelsDir, name)
  }

  private async entry(name: string, active: string): Promise<ModelEntry> {
    const dir = this.dirOf(name)
    const base = { name, dir, builtin: name === DEFAULT_MODEL_NAME, active: name === active }
    try {
      return { ...base, manifest: await readModelManifest(dir) }
    } catch (err) {
      return { ...base, manifest: null, problem: err instanceof UserError ? err.message : (err as Error).message }
    }
  }

  /** The default first, then the user's models by name. Folders that are not models are listed with their problem. */
  async list(): Promise<ModelEntry[]> {
    const active = this.activeName()
    const names = (await fs.readdir(this.modelsDir).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && NAME_RE.test(n) && n !== DEFAULT_MODEL_NAME && !n.endsWith('.run'))
    const dirs: string[] = []
    for (const n of names.sort()) if ((await fs.stat(join(this.modelsDir, n)).catch(() => null))?.isDirectory()) dirs.push(n)
    return Promise.all([DEFAULT_MODEL_NAME, ...dirs].map((n) => this.entry(n, active)))
  }

  async get(name: string): Promise<ModelEntry> {
    if (name !== DEFAULT_MODEL_NAME) checkModelName(name)
    if (!(await exists(this.dirOf(name)))) {
      throw new UserError('MODEL_NOT_FOUND', `there is no model named '${name}' (umbra models list shows them)`)
    }
    return this.entry(name, this.activeName())
  }

  /** The folder of the active model; falls back to the default when the chosen one is gone or broken. */
  async activeDir(): Promise<{ name: string; dir: string; fellBack: boolean }> {
    const name = this.activeName()
    if (name !== DEFAULT_MODEL_NAME) {
      const e = await this.get(name).catch(() => null)
      if (e?.manifest) return { name, dir: e.dir, fellBack: false }
    }
    return { name: DEFAULT_MODEL_NAME, dir: this.defaultDir, fellBack: name !== DEFAULT_MODEL_NAME }
  }

  async use(name: string): Promise<ModelEntry> {
    const e = await this.get(name)
    if (!e.manifest) throw new UserError('MODEL_CORRUPT', `model '${name}' cannot be used: ${e.problem}`)
    await this.settings.update({ panels: { [SETTINGS_KEY]: { active: name } } })
    return { ...e, active: true }
  }

  async rename(from: string, to: string): Promise<ModelEntry> {
    if (from === DEFAULT_MODEL_NAME) throw new UserError('PROTECTED', 'the default model cannot be renamed')
    checkModelName(to)
    const e = await this.get(from)
    const target = this.dirOf(to)
    if (await exists(target)) throw new UserError('MODEL_EXISTS', `a model named '${to}' already exists`)
    await fs.rename(e.dir, target)
    // The manifest is not covered by the checksums: its name can follow the folder's.
    if (e.manifest) {
      await writeFileAtomic(join(target, MANIFEST_FILE), JSON.stringify({ ...e.manifest, name: to }, null, 2) + '\n')
    }
    if (this.activeName() === from) await this.settings.update({ panels: { [SETTINGS_KEY]: { active: to } } })
    return this.get(to)
  }

  async delete(name: string): Promise<void> {
    if (name === DEFAULT_MODEL_NAME) throw new UserError('PROTECTED', 'the default model cannot be deleted')
    const e = await this.get(name)
    // Moved aside first, so a half-deleted folder never shows under the model's name.
    const aside = tempPathFor(e.dir)
    await fs.rename(e.dir, aside)
    await fs.rm(aside, { recursive: true, force: true })
    if (this.activeName() === name) await this.settings.update({ panels: { [SETTINGS_KEY]: { active: DEFAULT_MODEL_NAME } } })
  }

  /** Copies a model (verified first) to a new folder `dest`, which must not exist yet. */
  async export(name: string, dest: string): Promise<string> {
    const e = await this.get(name)
    await validateModelFolder(e.dir)
    const target = resolve(dest)
    if (await exists(target)) throw new UserError('EXISTS', `${target} already exists: choose a new folder to export to`)
    await writeDirAtomic(target, async (tmp) => {
      await copyDir(e.dir, tmp)
      await validateModelFolder(tmp)
    })
    return target
  }

  /**
   * Imports a model folder under `name` (default: from its manifest name). Refused whole when any
   * file is missing or damaged, when the name is taken, or when it would replace the default.
   */
  async import(src: string, name?: string): Promise<ModelEntry> {
    const from = resolve(src)
    const manifest = await validateModelFolder(from)
    const wanted = checkModelName(name ?? slugModelName(manifest.name))
    const target = this.dirOf(wanted)
    if (await exists(target)) throw new UserError('MODEL_EXISTS', `a model named '${wanted}' already exists: pass another name`)
    await fs.mkdir(this.modelsDir, { recursive: true })
    await writeDirAtomic(target, async (tmp) => {
      await copyDir(from, tmp)
      // The copy is checked too (a file changed or truncated while copying is caught here).
      await validateModelFolder(tmp)
    })
    return this.get(wanted)
  }
}

/**
 * The active model's folder for code that cannot wait (an engine worker starting): undefined means
 * the default (or the chosen model is gone). Same choice as ModelStore.activeDir, checked cheaply.
 */
export function activeModelDirSync(settings: SettingsStore, modelsDir = defaultModelsDir()): string | undefined {
  const panel = settings.get().panels[SETTINGS_KEY] as { active?: unknown } | undefined
  const name = typeof panel?.active === 'string' ? panel.active : ''
  if (!name || name === DEFAULT_MODEL_NAME || !NAME_RE.test(name)) return undefined
  const dir = join(resolve(modelsDir), name)
  return existsSync(join(dir, MANIFEST_FILE)) ? dir : undefined
}
