/**
 * Security rules of the Electron shell, as plain functions (no Electron import) so they are
 * unit-tested under Node: which pages may talk to the main process, where a window may navigate,
 * and the renderer's Content-Security-Policy.
 */

/** The custom protocol the renderer is served from (never file://). */
import { RENDERER_CSP } from '../shared/csp'

export const APP_SCHEME = 'app'
export const APP_HOST = 'umbra'
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`

/** Same policy as the web bridge (src/web/server.ts), defined once in src/shared/csp.ts. */
export { RENDERER_CSP }

/** In development only: the Vite dev server needs inline scripts (React refresh) and its websocket. */
export function devCsp(devUrl: string): string {
  const origin = new URL(devUrl).origin
  const ws = origin.replace(/^http/, 'ws')
  return RENDERER_CSP.replace("script-src 'self'", `script-src 'self' 'unsafe-inline' ${origin}`).replace("connect-src 'self'", `connect-src 'self' ${origin} ${ws}`)
}

/**
 * Whether an IPC message comes from our own page: the top frame, loaded from app://umbra/ (or,
 * in development, from the dev server's origin). Anything else (a navigated page, an iframe,
 * another origin) is refused.
 */
export function isTrustedSender(frame: { url: string; isMainFrame: boolean } | null | undefined, devUrl?: string): boolean {
  if (!frame || !frame.isMainFrame) return false
  let url: URL
  try {
    url = new URL(frame.url)
  } catch {
    return false
  }
  if (url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST) return true
  if (devUrl) {
    try {
      return url.origin === new URL(devUrl).origin
    } catch {
      return false
    }
  }
  return false
}

/** Navigation is allowed only within the app itself (a reload); links never leave it. */
export function isAllowedNavigation(target: string, devUrl?: string): boolean {
  return isTrustedSender({ url: target, isMainFrame: true }, devUrl)
}

/**
 * Maps an app:// request path to a file inside the renderer folder, or null when it would escape
 * it. `join` is passed in so this stays testable with POSIX paths.
 */
export function resolveAppPath(requestUrl: string, rendererDir: string, join: (...p: string[]) => string, sep: string): string | null {
  let url: URL
  try {
    url = new URL(requestUrl)
  } catch {
    return null
  }
  if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return null
  let rel: string
  try {
    rel = decodeURIComponent(url.pathname)
  } catch {
    return null
  }
  if (rel === '/' || rel === '') rel = '/index.html'
  if (rel.includes('\0')) return null
  const root = rendererDir.endsWith(sep) ? rendererDir : rendererDir + sep
  const file = join(rendererDir, rel)
  return file.startsWith(root) ? file : null
}
