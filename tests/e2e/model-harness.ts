import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import type { ShadowLayer } from '../../src/shared/project'
import { writeGeometricShadowModel } from '../helpers/geometric-shadow-model'
import { defaultModelDir } from '../../src/engine/model-dir'
import { chooseFiles, composition, CUTOUT, exportPng, PHOTO, settled, startHarness, waitLayers, type Harness } from './harness'

/**
 * The shadow suites' setup: the hand-set test model (tests/helpers/geometric-shadow-model.ts)
 * written into a scratch folder under data/tmp (kept with UMBRA_KEEP_E2E_FILES=1), or the shipped
 * model, the engine pointed at it through UMBRA_MODEL_DIR, and the harness with one page.
 */
export interface ModelHarness {
  h: Harness
  page: Page
  /** The scratch folder (the model is in dir/model; tests write their files here). */
  dir: string
  close(): Promise<void>
}

export async function startModelHarness(
  name: string,
  /** model 'shipped': the trained model the app ships (resources/models/default), for benchmarks. */
  opts: { model?: { size?: number; castFrame?: boolean } | 'shipped'; openSampleOnStart?: boolean; prepare?: (dir: string) => Promise<void> } = {},
): Promise<ModelHarness> {
  const dir = join(import.meta.dirname, '..', '..', 'data', 'tmp', `e2e-${name}-${process.pid}`)
  mkdirSync(dir, { recursive: true })
  if (opts.model === 'shipped') {
    process.env.UMBRA_MODEL_DIR = defaultModelDir()
  } else {
    await writeGeometricShadowModel(join(dir, 'model'), opts.model?.size ?? 64, { castFrame: opts.model?.castFrame })
    process.env.UMBRA_MODEL_DIR = join(dir, 'model')
  }
  await opts.prepare?.(dir)
  const h = await startHarness({ openSampleOnStart: opts.openSampleOnStart ?? false })
  const page = await h.newPage()
  return {
    h,
    page,
    dir,
    async close() {
      await h.close()
      delete process.env.UMBRA_MODEL_DIR
      if (!process.env.UMBRA_KEEP_E2E_FILES) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Exports the composition as PNG into `dir` and returns its RGB pixels. */
export async function rawExport(page: Page, dir: string, name: string): Promise<{ data: Buffer; width: number; height: number }> {
  const file = join(dir, name)
  await exportPng(page, file)
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

/** Darkness-weighted centroid of where img is darker than base (by more than 3 levels a channel), and the total darkening. */
export function darkCentroid(base: Buffer, img: Buffer, width: number, height: number): { x: number; y: number; mass: number } {
  let sx = 0
  let sy = 0
  let m = 0
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3
      const d = base[i] - img[i] + base[i + 1] - img[i + 1] + base[i + 2] - img[i + 2]
      if (d <= 9) continue
      sx += d * x
      sy += d * y
      m += d
    }
  return { x: sx / m, y: sy / m, mass: m }
}

/** Opens `photo`, inserts `cutout` and puts it at (x, y) (the Properties fields, photo pixels). */
export async function placeCutout(page: Page, photo: string, cutout: string, x: number, y: number): Promise<void> {
  await chooseFiles(page, 'open-photo', photo)
  await waitLayers(page, 1)
  await chooseFiles(page, 'insert-object', cutout)
  await waitLayers(page, 2)
  for (const [id, v] of [['prop-x', x], ['prop-y', y]] as const) {
    await page.fill(`[data-testid="${id}"]`, String(v))
    await page.press(`[data-testid="${id}"]`, 'Enter')
  }
  await settled(page)
}

/** Opens the bundled photograph and inserts the sample cut-out where the sample puts it (resources/samples/sample.json): on the gravel, lower right. */
export async function placeSampleCutout(page: Page): Promise<void> {
  await placeCutout(page, PHOTO, CUTOUT, 1900, 1180)
}

/** Mean darkening (before - after, levels, all channels) over a box, clipped to the image. */
export function meanDarkening(before: Buffer, after: Buffer, width: number, height: number, box: { x0: number; y0: number; x1: number; y1: number }): number {
  let sum = 0
  let n = 0
  for (let y = Math.max(0, Math.round(box.y0)); y < Math.min(height, Math.round(box.y1)); y++)
    for (let x = Math.max(0, Math.round(box.x0)); x < Math.min(width, Math.round(box.x1)); x++)
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c
        sum += before[i] - after[i]
        n++
      }
  return n ? sum / n : 0
}

/** The composition's (first) shadow layer. */
export async function shadowLayerOf(page: Page): Promise<ShadowLayer> {
  return (await composition(page)).layers.find((l): l is ShadowLayer => l.kind === 'shadow')!
}

/** Clicks Regenerate for this light and waits (up to 30 s) until the shadow layer shows a new image; returns the layer. */
export async function recastForLight(page: Page): Promise<ShadowLayer> {
  const before = await shadowLayerOf(page)
  await page.click('[data-testid="light-recast"]')
  let after = before
  for (let i = 0; i < 300 && after.assetId === before.assetId; i++) {
    await new Promise((r) => setTimeout(r, 100))
    after = await shadowLayerOf(page)
  }
  return after
}
