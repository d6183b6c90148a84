import { chromium, type Browser, type Page } from 'playwright-core'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEditorServer } from '../../src/web/index'
import { JsonFileBackend, SettingsService } from '../../src/core/settings'
import type { WebBridge } from '../../src/web/server'
import type { Composition } from '../../src/shared/project'

/**
 * The real-browser harness: the REAL web bridge with the REAL handlers (src/web), Debian's
 * chromium driven by playwright-core, the built renderer (dist-web, built by `npm run test:e2e`).
 */
export const CHROMIUM = process.env.UMBRA_CHROMIUM ?? '/usr/bin/chromium'
export const SAMPLES = join(import.meta.dirname, '..', '..', 'resources', 'samples')
export const PHOTO = join(SAMPLES, 'evening-glow.jpg')
export const CUTOUT = join(SAMPLES, 'boat.png')

export interface Harness {
  server: WebBridge
  settings: SettingsService
  browser: Browser
  dir: string
  newPage(): Promise<Page>
  close(): Promise<void>
}

export async function startHarness(opts: { openSampleOnStart?: boolean } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-e2e-'))
  const settings = new SettingsService(new JsonFileBackend(join(dir, 'settings.json')))
  if (opts.openSampleOnStart === false) await settings.update({ preferences: { openSampleOnStart: false } })
  const server = await startEditorServer({ settings })
  const userDataDir = mkdtempSync(join(tmpdir(), 'umbra-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1400, height: 860 },
    acceptDownloads: true,
  })
  const browser = context.browser() ?? ({ close: () => context.close() } as unknown as Browser)
  const pages: Page[] = []
  return {
    server,
    settings,
    browser,
    dir,
    async newPage() {
      const page = pages.length === 0 && context.pages()[0] ? context.pages()[0] : await context.newPage()
      pages.push(page)
      page.on('pageerror', (e) => console.error('[pageerror]', e.message))
      page.on('console', (m) => {
        if (m.type() === 'error' && !/favicon/.test(m.text())) console.error('[console]', m.text())
      })
      await page.goto(server.url)
      await page.waitForSelector('.app[data-ready="true"]')
      await settled(page)
      return page
    },
    async close() {
      await context.close()
      await server.close()
      for (const d of [dir, userDataDir]) rmSync(d, { recursive: true, force: true })
    },
  }
}

/** Waits until the document has `n` layers, all drawn, nothing busy. */
export async function waitLayers(page: Page, n: number): Promise<void> {
  await page.waitForFunction((count) => {
    const u = (window as unknown as { __umbra?: { store: { getState(): { busy: string | null; composition: { layers: unknown[] } } }; canvas: { current: { settled: boolean } | null } } }).__umbra
    return !!u && u.store.getState().composition.layers.length === count && !u.store.getState().busy && !!u.canvas.current?.settled
  }, n)
}

/** Reloads the editor page and waits for the fresh editor to be ready. */
export async function reload(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { __umbraOld?: boolean }).__umbraOld = true))
  await page.reload()
  await page.waitForFunction(() => !(window as unknown as { __umbraOld?: boolean }).__umbraOld && !!document.querySelector('.app[data-ready="true"]'))
  await settled(page)
}

/** Waits until every layer of the document is drawn on the canvas and nothing is busy. */
export async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const u = (window as unknown as { __umbra?: { store: { getState(): { busy: string | null } }; canvas: { current: { settled: boolean } | null } } }).__umbra
    return !!u && !u.store.getState().busy && !!u.canvas.current?.settled
  })
}

export async function composition(page: Page): Promise<Composition> {
  return page.evaluate(() => (window as unknown as { __umbra: { store: { getState(): { composition: unknown } } } }).__umbra.store.getState().composition) as Promise<Composition>
}

export async function editorState<T>(page: Page, pick: string): Promise<T> {
  return page.evaluate((p) => {
    const s = (window as unknown as { __umbra: { store: { getState(): Record<string, unknown>; dirty: boolean } } }).__umbra.store
    return p === 'dirty' ? s.dirty : s.getState()[p]
  }, pick) as Promise<T>
}

/** Clicks a control that opens the browser's file picker and answers it with `files`. */
export async function chooseFiles(page: Page, testId: string, files: string | string[]): Promise<void> {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click(`[data-testid="${testId}"]`)])
  await chooser.setFiles(files)
}

/** Page coordinates of a point given in photo pixels. */
export async function photoToPage(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await page.locator('[data-testid="canvas"] canvas.upper-canvas').boundingBox())!
  const p = await page.evaluate(([px, py]) => (window as unknown as { __umbra: { canvas: { current: { sceneToScreen(x: number, y: number): { x: number; y: number } } } } }).__umbra.canvas.current.sceneToScreen(px, py), [x, y])
  return { x: box.x + p.x, y: box.y + p.y }
}

/** Page coordinates of a control handle of a layer ('br', 'tl', 'mtr', ...). */
export async function handleToPage(page: Page, layerId: string, corner: string): Promise<{ x: number; y: number }> {
  const box = (await page.locator('[data-testid="canvas"] canvas.upper-canvas').boundingBox())!
  const p = await page.evaluate(
    ([id, c]) => (window as unknown as { __umbra: { canvas: { current: { controlPoint(id: string, c: string): { x: number; y: number } } } } }).__umbra.canvas.current.controlPoint(id, c),
    [layerId, corner],
  )
  return { x: box.x + p.x, y: box.y + p.y }
}

/** A mouse drag in small steps, as a person does it. */
export async function drag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }, steps = 12): Promise<void> {
  await page.mouse.move(from.x, from.y)
  await page.mouse.down()
  for (let i = 1; i <= steps; i++) await page.mouse.move(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps)
  await page.mouse.up()
}

export async function download(page: Page, trigger: () => Promise<void>, saveAs: string): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download'), trigger()])
  await dl.saveAs(saveAs)
  return dl.suggestedFilename()
}

export async function exportPng(page: Page, saveAs: string): Promise<string> {
  await page.click('[data-testid="export"]')
  await page.selectOption('[data-testid="export-format"]', 'png')
  const name = await download(page, () => page.click('[data-testid="export-confirm"]'), saveAs)
  await page.waitForSelector('[data-testid="export-dialog"]', { state: 'detached' })
  return name
}
