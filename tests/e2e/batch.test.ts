import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { composite, makeTinyModel, write } from '../unit/batch/fixtures'
import { chooseFiles, composition, reload, startHarness, waitLayers, type Harness } from './harness'

/**
 * The Batch panel in a real browser against the real handlers: a small batch (a freshly
 * initialised tiny model, no trained model needed) runs from the panel to 100%.
 */
let h: Harness
let page: Page
let root: string

beforeAll(async () => {
  h = await startHarness({ openSampleOnStart: false })
  root = join(h.dir, 'batch')
  // The batch handler takes the model from UMBRA_MODEL_DIR when the panel names none.
  process.env.UMBRA_MODEL_DIR = await makeTinyModel(join(root, 'model'))
  for (let i = 0; i < 5; i++) {
    const c = await composite(160, 120, i, 'jpeg')
    await write(join(root, 'in', `photo${i}.jpg`), c.photo)
    await write(join(root, 'in', `photo${i}.mask.png`), c.mask)
  }
  await write(join(root, 'in', 'Thumbs.db'), 'junk')
  await write(join(root, 'in', 'nomask.jpg'), (await composite(80, 60, 9)).photo)
  page = await h.newPage()
})
afterAll(async () => {
  delete process.env.UMBRA_MODEL_DIR
  await h?.close()
})

describe('Batch panel', () => {
  it('runs a batch from the panel: progress reaches 100%, per-file status and thumbnails, outputs on disk, settings remembered', async () => {
    const inDir = join(root, 'in')
    const outDir = join(root, 'out')
    await page.click('[data-testid="batch-toggle"]')
    const panel = page.locator('[data-testid="batch-panel"]')
    await panel.locator('[data-testid="batch-in"]').fill(inDir)
    await panel.locator('[data-testid="batch-out"]').fill(outDir)
    await panel.locator('[data-testid="batch-projects"]').check()
    await panel.locator('[data-testid="batch-start"]').click()

    await page.waitForSelector('[data-testid="batch-progress"][data-percent="100"]', { timeout: 120_000 })
    await page.waitForSelector('[data-testid="batch-status"][data-state="finished"]')
    expect(await page.getAttribute('[data-testid="batch-progress"]', 'aria-valuenow')).toBe('100')

    const rows = panel.locator('[data-testid="batch-row"]')
    const statuses = Object.fromEntries(await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('data-input'), e.getAttribute('data-status')])))
    expect(statuses).toMatchObject({ 'photo0.jpg': 'done', 'photo4.jpg': 'done', 'Thumbs.db': 'skipped', 'nomask.jpg': 'failed' })
    expect(await panel.locator('[data-testid="batch-counts"]').textContent()).toMatch(/5\/5 · 5 done · 1 failed · 1 skipped/)
    // thumbnails of the results arrive through batch.thumbnail
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="batch-panel"] img.batch-thumb').length >= 5)
    // the notification (toast) when done
    await page.waitForSelector('.toast >> text=/Batch finished/')

    for (let i = 0; i < 5; i++) {
      expect(existsSync(join(outDir, `photo${i}.jpg`))).toBe(true)
      expect(existsSync(join(outDir, `photo${i}.umbra`))).toBe(true)
    }
    const report = JSON.parse(await fs.readFile(join(outDir, 'report.json'), 'utf8'))
    expect(report.summary).toMatchObject({ done: 5, failed: 1, skipped: 1 })

    // a result's project opens in the editor: photo, shadow layer, object
    await chooseFiles(page, 'open-project', join(outDir, 'photo0.umbra'))
    await waitLayers(page, 3)
    const c = await composition(page)
    expect(c.layers.map((l) => l.kind)).toEqual(['photo', 'shadow', 'object'])
    expect([c.width, c.height]).toEqual([160, 120])

    // folders and options are remembered
    const saved = h.settings.get()
    expect(saved.lastFolders).toMatchObject({ batchIn: inDir, batchOut: outDir })
    await reload(page)
    await page.click('[data-testid="batch-toggle"]')
    expect(await page.inputValue('[data-testid="batch-in"]')).toBe(inDir)
    expect(await page.inputValue('[data-testid="batch-out"]')).toBe(outDir)
    expect(await page.isChecked('[data-testid="batch-projects"]')).toBe(true)
    // the finished job is still shown after the reload
    await page.waitForSelector('[data-testid="batch-status"][data-state="finished"]')

    // a rerun resumes: everything already done is skipped
    await page.click('[data-testid="batch-start"]')
    await page.waitForSelector('[data-testid="batch-status"][data-state="finished"]')
    await page.waitForFunction(() => /0\/0 · 0 done · 1 failed · 6 skipped/.test(document.querySelector('[data-testid="batch-counts"]')?.textContent ?? ''))
    await page.waitForSelector('[data-testid="batch-status"][data-state="finished"] [data-testid="batch-progress"][data-percent="100"]')
  })

  it('pauses, resumes and cancels from the panel while the editor keeps answering', async () => {
    const inDir = join(root, 'big')
    for (let i = 0; i < 16; i++) {
      const c = await composite(1600, 1200, i, 'jpeg')
      await write(join(inDir, `big${i}.jpg`), c.photo)
      await write(join(inDir, `big${i}.mask.png`), c.mask)
    }
    await page.fill('[data-testid="batch-in"]', inDir)
    await page.fill('[data-testid="batch-out"]', join(root, 'big-out'))
    await page.click('[data-testid="batch-start"]')
    await page.waitForSelector('[data-testid="batch-status"][data-state="running"]')
    await page.click('[data-testid="batch-pause"]')
    await page.waitForSelector('[data-testid="batch-status"][data-state="paused"]')
    // The editor answers while a batch holds its place: the page (zoom) and the Node side (its loop
    // serves a request at once; the job runs in its own thread).
    const zoom0 = await page.textContent('[data-testid="zoom-level"]')
    await page.evaluate(() => (window as unknown as { __umbra: { run(a: string): void } }).__umbra.run('zoomIn'))
    await page.waitForFunction((z) => document.querySelector('[data-testid="zoom-level"]')?.textContent !== z, zoom0)
    const t0 = Date.now()
    const status = await page.evaluate(async () => (await fetch('/', { cache: 'no-store' })).status)
    expect(status).toBe(200)
    expect(Date.now() - t0).toBeLessThan(5000)
    await page.click('[data-testid="batch-resume"]')
    await page.waitForSelector('[data-testid="batch-status"][data-state="running"]')
    await page.click('[data-testid="batch-cancel"]')
    await page.waitForSelector('[data-testid="batch-status"][data-state="cancelled"]', { timeout: 60_000 })
    const done = Number((await page.textContent('[data-testid="batch-counts"]'))!.match(/· (\d+) done/)![1])
    expect(done).toBeLessThan(16)
    await page.waitForSelector('.toast >> text=/Batch cancelled/')
  })

  it('shows a clear error for a missing input folder', async () => {
    await page.fill('[data-testid="batch-in"]', join(root, 'nowhere'))
    await page.click('[data-testid="batch-start"]')
    await page.waitForSelector('[data-testid="batch-error"]')
    expect(await page.textContent('[data-testid="batch-error"]')).toMatch(/does not exist/)
  })
})
