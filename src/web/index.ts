import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createDispatcher } from '../app/dispatch'
import { createHandlers } from '../app/handlers'
import { createNodeContext, REPO_ROOT } from '../app/node-host'
import type { SettingsStore } from '../core/settings'
import { UserError } from '../core/errors'
import { startWebBridge, type WebBridge } from './server'

export const DIST_WEB = join(REPO_ROOT, 'dist-web')

/** Starts the editor's web bridge with the app's handlers (what `umbra web` and the browser tests run). */
export async function startEditorServer(opts: { port?: number; settingsPath?: string; settings?: SettingsStore; staticDir?: string; token?: string; modelDir?: string } = {}): Promise<WebBridge> {
  const staticDir = opts.staticDir ?? DIST_WEB
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new UserError('NOT_BUILT', `the web renderer is not built (${staticDir}/index.html is missing): run 'npm run build:web' (or 'npm run web', which builds it first)`)
  }
  const ctx = createNodeContext({ settingsPath: opts.settingsPath, settings: opts.settings, modelDir: opts.modelDir })
  const dispatch = createDispatcher(createHandlers(ctx))
  const bridge = await startWebBridge({ dispatch, staticDir, port: opts.port, token: opts.token })
  ctx.emit = (name, payload) => bridge.emit(name, payload)
  // Closing the bridge also stops the engine worker (it holds the model).
  return { ...bridge, close: async () => {
    await ctx.engine?.close()
    await bridge.close()
  } }
}
