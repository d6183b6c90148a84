import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { AssetStore } from '../core/assets'
import { JsonFileBackend, SettingsService, defaultSettingsPath, type SettingsStore } from '../core/settings'
import type { AppContext } from './context'
import { createThreadEngineHost } from '../jobs/engine/host'
import { activeModelDirSync } from '../engine/model-store'

/** The repository root (this file is src/app/node-host.ts). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export function appVersion(root = REPO_ROOT): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
}

/** The context for hosts without Electron (the web bridge, tests): settings in a JSON file. */
export function createNodeContext(opts: { settingsPath?: string; settings?: SettingsStore; samplesDir?: string; modelDir?: string } = {}): AppContext {
  const settings = opts.settings ?? new SettingsService(new JsonFileBackend(opts.settingsPath ?? defaultSettingsPath()))
  return {
    appVersion: appVersion(),
    transport: 'web',
    capabilities: { nativeDialogs: false, openByPath: true },
    assets: new AssetStore(),
    settings,
    samplesDir: opts.samplesDir ?? join(REPO_ROOT, 'resources', 'samples'),
    // The shadow engine runs in a worker thread (started on first use; the model stays warm there).
    // Model folder: opts, then $UMBRA_MODEL_DIR, then the active model (model manager), read at each engine start.
    engine: createThreadEngineHost(() => ({ modelDir: opts.modelDir ?? (process.env.UMBRA_MODEL_DIR || activeModelDirSync(settings)) })),
  }
}
