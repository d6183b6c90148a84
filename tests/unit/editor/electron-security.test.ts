import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { posix } from 'node:path'
import { devCsp, isAllowedNavigation, isTrustedSender, RENDERER_CSP, resolveAppPath } from '../../../src/main/security'
import { CSP as WEB_CSP } from '../../../src/web/server'
import { actionsByName } from '../../../src/renderer/src/editor/actions'

const ROOT = join(import.meta.dirname, '..', '..', '..')

describe('Electron security rules (no Electron needed)', () => {
  it('trusts IPC only from the top frame of app://umbra (or the dev server in development)', () => {
    expect(isTrustedSender({ url: 'app://umbra/index.html', isMainFrame: true })).toBe(true)
    expect(isTrustedSender({ url: 'app://umbra/index.html', isMainFrame: false })).toBe(false)
    expect(isTrustedSender({ url: 'app://evil/index.html', isMainFrame: true })).toBe(false)
    expect(isTrustedSender({ url: 'file:///home/u/index.html', isMainFrame: true })).toBe(false)
    expect(isTrustedSender({ url: 'https://umbra/', isMainFrame: true })).toBe(false)
    expect(isTrustedSender({ url: 'not a url', isMainFrame: true })).toBe(false)
    expect(isTrustedSender(null)).toBe(false)
    expect(isTrustedSender({ url: 'http://localhost:5173/', isMainFrame: true })).toBe(false)
    expect(isTrustedSender({ url: 'http://localhost:5173/', isMainFrame: true }, 'http://localhost:5173')).toBe(true)
    expect(isTrustedSender({ url: 'http://localhost:5174/', isMainFrame: true }, 'http://localhost:5173')).toBe(false)
  })

  it('blocks navigation away from the app', () => {
    expect(isAllowedNavigation('app://umbra/index.html')).toBe(true)
    expect(isAllowedNavigation('https://example.com/')).toBe(false)
    expect(isAllowedNavigation('file:///etc/passwd')).toBe(false)
    expect(isAllowedNavigation('javascript:alert(1)')).toBe(false)
  })

  it('serves only files inside the renderer folder through app://', () => {
    const dir = '/opt/umbra/out/renderer'
    expect(resolveAppPath('app://umbra/', dir, posix.join, '/')).toBe('/opt/umbra/out/renderer/index.html')
    expect(resolveAppPath('app://umbra/assets/a.js', dir, posix.join, '/')).toBe('/opt/umbra/out/renderer/assets/a.js')
    expect(resolveAppPath('app://umbra/../../etc/passwd', dir, posix.join, '/')).toBe('/opt/umbra/out/renderer/etc/passwd') // URL parsing already removes ..
    for (const evil of ['app://umbra/%2e%2e/%2e%2e/etc/passwd', 'app://umbra/..%2f..%2fetc%2fpasswd', 'app://umbra/%2F..%2F..%2Fetc/passwd']) {
      const r = resolveAppPath(evil, dir, posix.join, '/')
      expect(r === null || r.startsWith(dir + '/'), `${evil} -> ${r}`).toBe(true)
    }
    expect(resolveAppPath('app://umbra/a%00b', dir, posix.join, '/')).toBeNull()
    expect(resolveAppPath('app://other/index.html', dir, posix.join, '/')).toBeNull()
    expect(resolveAppPath('file:///etc/passwd', dir, posix.join, '/')).toBeNull()
  })

  it('has one strict CSP for both transports; the dev one only adds the dev server', () => {
    expect(RENDERER_CSP).toBe(WEB_CSP)
    expect(RENDERER_CSP).toMatch(/script-src 'self';/)
    expect(RENDERER_CSP).not.toMatch(/script-src[^;]*unsafe/)
    const dev = devCsp('http://localhost:5173/')
    expect(dev).toContain("connect-src 'self' http://localhost:5173 ws://localhost:5173")
  })

  it('creates windows with isolation, sandbox, no Node, and never exposes ipcRenderer', () => {
    const main = readFileSync(join(ROOT, 'src/main/index.ts'), 'utf8')
    expect(main).toMatch(/contextIsolation: true/)
    expect(main).toMatch(/sandbox: true/)
    expect(main).toMatch(/nodeIntegration: false/)
    expect(main).toMatch(/setWindowOpenHandler/)
    expect(main).toMatch(/will-navigate/)
    expect(main).not.toMatch(/loadFile\(|file:\/\//)
    const preload = readFileSync(join(ROOT, 'src/preload/index.ts'), 'utf8')
    expect(preload).toMatch(/exposeInMainWorld\('umbra', bridge\)/)
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer/)
  })

  it('every menu item names an action of the renderer registry', () => {
    const menu = readFileSync(join(ROOT, 'src/main/menu.ts'), 'utf8')
    const names = [...menu.matchAll(/item\('[^']+', '([^']+)'/g)].map((m) => m[1])
    expect(names.length).toBeGreaterThan(15)
    for (const n of names) expect(actionsByName.has(n), n).toBe(true)
  })
})
