import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import { writeGeometricShadowModel } from '../helpers/geometric-shadow-model'
import { defaultModelDir } from '../../src/engine/model-dir'
import { chooseFiles, CUTOUT, exportPng, PHOTO, settled, startHarness, waitLayers, type Harness } from './harness'

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

/** Opens the bundled photograph and inserts the sample cut-out where the sample puts it (resources/samples/sample.json): on the gravel, lower right. */
export async function placeSampleCutout(page: Page): Promise<void> {
  await chooseFiles(page, 'open-photo', PHOTO)
  await waitLayers(page, 1)
  await chooseFiles(page, 'insert-object', CUTOUT)
  await waitLayers(page, 2)
  for (const [id, v] of [['prop-x', '1900'], ['prop-y', '1180']] as const) {
    await page.fill(`[data-testid="${id}"]`, v)
    await page.press(`[data-testid="${id}"]`, 'Enter')
  }
  await settled(page)
}
