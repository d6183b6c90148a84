import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { makeTinyPair, writePairFolder, writeTinyModel } from '../unit/finetune/fixtures'
import { writeImage } from '../../src/core/image'
import { startHarness, type Harness } from './harness'

/**
 * The Fine-tune panel in a real browser against the real handlers: a short fine-tune of a tiny
 * model (no trained model needed) on tiny pairs, started from the panel; the chart and previews
 * update, the new model is saved, listed and made the editor's model.
 */
let h: Harness
let page: Page
let root: string

beforeAll(async () => {
  h = await startHarness({ openSampleOnStart: false })
  root = join(h.dir, 'finetune')
  // The model manager's folder for this test; the handlers read it on first use.
  process.env.UMBRA_MODELS_DIR = join(root, 'models')
  await writeTinyModel(join(root, 'models', 'tiny'))
  await h.settings.update({ panels: { models: { active: 'tiny' } } })
  await writePairFolder(join(root, 'pairs'), 6, { size: 40, withObjectShadow: false })
  const same = makeTinyPair(99, 40)
  await fs.mkdir(join(root, 'pairs', 'zz-same'), { recursive: true })
  await writeImage(join(root, 'pairs', 'zz-same', 'noshadow.png'), same.noShadow)
  await writeImage(join(root, 'pairs', 'zz-same', 'shadow.png'), same.noShadow)
  await writeImage(join(root, 'pairs', 'zz-same', 'object.png'), same.object)
  page = await h.newPage()
})
afterAll(async () => {
  delete process.env.UMBRA_MODELS_DIR
  await h?.close()
})

const trainPoints = () => page.getAttribute('[data-testid="finetune-chart"]', 'data-train-points').then(Number)

describe('Fine-tune panel', () => {
  it('checks the pairs, trains from the panel with a live chart and previews, saves the model and switches the editor to it', async () => {
    await page.click('[data-testid="finetune-toggle"]')
    const panel = page.locator('[data-testid="finetune-panel"]')
    await panel.locator('[data-testid="finetune-pairs"]').fill(join(root, 'pairs'))
    await panel.locator('[data-testid="finetune-check"]').click()
    await page.waitForSelector('[data-testid="finetune-report"][data-accepted="6"][data-rejected="1"]')
    expect(await panel.locator('[data-testid="finetune-rejected"]').textContent()).toMatch(/zz-same: .*identical/)
    expect(await panel.locator('[data-testid="finetune-report"]').textContent()).toMatch(/shadow mask derived for 6/)

    await panel.locator('[data-testid="finetune-name"]').fill('studio')
    await panel.locator('[data-testid="finetune-steps"]').fill('40')
    await panel.locator('[data-testid="finetune-batch"]').fill('2')
    await panel.locator('[data-testid="finetune-lr"]').fill('0.001')
    await panel.locator('[data-testid="finetune-validate-every"]').fill('4')
    await panel.locator('[data-testid="finetune-start"]').click()

    // the chart updates while it trains: more training points, then validation points
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="finetune-chart"]')?.getAttribute('data-train-points') ?? 0) >= 2, undefined, { timeout: 60_000 })
    const first = await trainPoints()
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="finetune-chart"]')?.getAttribute('data-train-points') ?? 0) > n, first, { timeout: 60_000 })
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="finetune-chart"]')?.getAttribute('data-val-points') ?? 0) >= 2, undefined, { timeout: 60_000 })
    // the preview sheet refreshes as it learns
    await page.waitForSelector('[data-testid="finetune-preview"]', { timeout: 60_000 })
    const v1 = Number(await page.getAttribute('[data-testid="finetune-preview"]', 'data-version'))
    await page.waitForFunction((v) => Number(document.querySelector('[data-testid="finetune-preview"]')?.getAttribute('data-version') ?? 0) > v, v1, { timeout: 60_000 })

    await page.waitForSelector('[data-testid="finetune-status"][data-state="finished"]', { timeout: 120_000 })
    await page.waitForSelector('[data-testid="finetune-result"]')
    expect(await page.textContent('[data-testid="finetune-result"]')).toMatch(/LRMSE\d+\.\d+\d+\.\d+/)
    // the new model is listed and selectable
    await page.waitForSelector('[data-testid="model-row"][data-name="studio"]')
    await page.click('[data-testid="finetune-use"]')
    await page.waitForSelector('[data-testid="model-row"][data-name="studio"][data-active="true"]')
    expect(h.settings.get().panels.models).toEqual({ active: 'studio' })
    const manifest = JSON.parse(await fs.readFile(join(root, 'models', 'studio', 'manifest.json'), 'utf8')) as { baseModel: string; training: { finetune: { trainPairs: number; validationPairs: number } } }
    expect(manifest.baseModel).toBe('tiny-base')
    expect(manifest.training.finetune.trainPairs + manifest.training.finetune.validationPairs).toBe(6)
  })

  it('stops a run and saves the best state so far from the panel', async () => {
    const panel = page.locator('[data-testid="finetune-panel"]')
    await panel.locator('[data-testid="finetune-name"]').fill('studio-2')
    await panel.locator('[data-testid="finetune-steps"]').fill('100000')
    await panel.locator('[data-testid="finetune-validate-every"]').fill('3')
    await panel.locator('[data-testid="finetune-start"]').click()
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="finetune-chart"]')?.getAttribute('data-val-points') ?? 0) >= 1, undefined, { timeout: 60_000 })
    await page.click('[data-testid="finetune-stop"]')
    await page.waitForSelector('[data-testid="finetune-status"][data-state="paused"]', { timeout: 60_000 })
    await page.click('[data-testid="finetune-save"]')
    await page.waitForSelector('[data-testid="finetune-status"][data-state="finished"]', { timeout: 60_000 })
    await page.waitForSelector('[data-testid="model-row"][data-name="studio-2"]')
    await page.click('[data-testid="model-use-studio-2"]')
    await page.waitForSelector('[data-testid="model-row"][data-name="studio-2"][data-active="true"]')
  })
})
