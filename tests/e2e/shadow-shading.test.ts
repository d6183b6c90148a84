import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { drag, photoToPage, settled, waitLayers } from './harness'
import { darkCentroid, meanDarkening, placeCutout, placeSampleCutout, rawExport, recastForLight, shadowLayerOf, startModelHarness, type ModelHarness } from './model-harness'

/**
 * The shipped model, with no light given, in the browser: an object's own shading tells which side
 * its light comes from (engine/shading-cue.ts). A cut-out pillar lit from the right, placed on a
 * plain floor, gets its shadow mostly on its left, and the Light panel says why; its mirror image,
 * lit from the left, gets it on the right. The floor has no shadows of its own (a photograph's
 * shadows, where the model finds them, decide the direction before the shading is asked), and it
 * is the same for both, so only the pillar's shading differs.
 */
let m: ModelHarness
let floor: string
let pillarLitFromRight: string
let pillarLitFromLeft: string

/** A 2400x1600 concrete-like floor: mid grey with fine grain and a gentle brightness falloff to the top. */
async function writeFloor(file: string): Promise<void> {
  const w = 2400
  const h = 1600
  const px = Buffer.alloc(w * h * 3)
  let seed = 12345
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 16
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = 150 + 25 * (y / h) + noise()
      px.set([v, v * 0.97, v * 0.92].map((c) => Math.max(0, Math.min(255, Math.round(c)))), (y * w + x) * 3)
    }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toFile(file)
}

/** A 140x360 RGBA pillar with a rounded top, its brightness rising linearly from one side to the other. */
async function writePillar(file: string, brightSide: 'left' | 'right'): Promise<void> {
  const w = 140
  const h = 360
  const px = Buffer.alloc(w * h * 4)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const u = x / (w - 1)
      const inTop = y >= w / 2 || Math.hypot(x - w / 2, y - w / 2) <= w / 2
      const v = Math.round(50 + 180 * (brightSide === 'right' ? u : 1 - u))
      px.set([v, Math.round(v * 0.9), Math.round(v * 0.8), inTop ? 255 : 0], (y * w + x) * 4)
    }
  await sharp(px, { raw: { width: w, height: h, channels: 4 } }).png().toFile(file)
}

beforeAll(async () => {
  m = await startModelHarness('shadow-shading', {
    model: 'shipped',
    prepare: async (dir) => {
      floor = join(dir, 'floor.jpg')
      await writeFloor(floor)
      pillarLitFromRight = join(dir, 'pillar-lit-from-right.png')
      pillarLitFromLeft = join(dir, 'pillar-lit-from-left.png')
      await writePillar(pillarLitFromRight, 'right')
      await writePillar(pillarLitFromLeft, 'left')
    },
  })
})
afterAll(async () => {
  await m?.close()
})

/** Opens the floor on a fresh page, inserts `cutout`, generates its shadow; returns the darkening left and right of its foot. */
async function generateFor(page: Page, cutout: string, name: string): Promise<{ left: number; right: number; origin: string | null; litFrom: string | undefined }> {
  await placeCutout(page, floor, cutout, 1200, 900)
  const before = await rawExport(page, m.dir, `${name}-before.png`)
  await page.click('[data-testid="generate-shadow"]')
  await waitLayers(page, 3)
  await settled(page)
  const after = await rawExport(page, m.dir, `${name}-after.png`)
  const shadow = await shadowLayerOf(page)
  const { x: cx, y: cy } = shadow.source!.contact
  // Beside the pillar's foot, one pillar height out on each side, clear of the pillar itself.
  const side = (x0: number, x1: number) => meanDarkening(before.data, after.data, before.width, before.height, { x0, y0: cy - 120, x1, y1: cy + 120 })
  return {
    left: side(cx - 90 - 360, cx - 90),
    right: side(cx + 90, cx + 90 + 360),
    origin: await page.textContent('[data-testid="light-origin"]'),
    litFrom: shadow.source!.lightOrigin?.litFrom,
  }
}

describe("the object's shading steers its shadow (shipped model, no light given)", () => {
  it('lit from the right: the shadow falls mostly to the left, and the Light panel says why; mirrored, the other way', async () => {
    const fromRight = await generateFor(await m.h.newPage(), pillarLitFromRight, 'lit-right')
    const fromLeft = await generateFor(await m.h.newPage(), pillarLitFromLeft, 'lit-left')
    console.log(
      `pillar lit from the right: darkening left ${fromRight.left.toFixed(1)}, right ${fromRight.right.toFixed(1)} levels; ` +
        `lit from the left: left ${fromLeft.left.toFixed(1)}, right ${fromLeft.right.toFixed(1)}`,
    )
    expect(fromRight.litFrom).toBe('right')
    expect(fromRight.origin).toMatch(/lit from the right, so its shadow more likely falls left/)
    expect(fromRight.left).toBeGreaterThan(2 * Math.max(fromRight.right, 0.5))
    expect(fromLeft.litFrom).toBe('left')
    expect(fromLeft.origin).toMatch(/lit from the left, so its shadow more likely falls right/)
    expect(fromLeft.right).toBeGreaterThan(2 * Math.max(fromLeft.left, 0.5))
  })
})

describe('the shipped model on the bundled photograph, steered', () => {
  it("re-casts the boat's shadow the way the light handle points (towards the viewer and right), as the README's screenshot shows", async () => {
    const page = await m.h.newPage()
    await placeSampleCutout(page)
    const base = await rawExport(page, m.dir, 'boat-before.png')
    await page.click('[data-testid="generate-shadow"]')
    await waitLayers(page, 3)
    const first = await shadowLayerOf(page)
    const src = first.source!
    // No light given and no clear shadow in the scene: the model's hedge, said so in the panel.
    expect(src.lightOrigin?.kind).toBe('spread')
    expect(await page.textContent('[data-testid="light-origin"]')).toMatch(/Direction not known/)

    // Steer towards the viewer and to the right (the sun sets behind the boats, left of this one), then re-cast.
    const tip = await page.locator('[data-testid="light-handle"]').boundingBox()
    const L = Math.max(src.castLength, 300)
    await drag(page, { x: tip!.x + tip!.width / 2, y: tip!.y + tip!.height / 2 }, await photoToPage(page, src.contact.x + 0.6 * L, src.contact.y + 0.8 * L))
    await settled(page)
    const steered = await shadowLayerOf(page)
    const wanted = steered.source!.light!.angle
    expect(wanted).toBeGreaterThan(30)
    expect(wanted).toBeLessThan(75)
    const recast = await recastForLight(page)
    expect(recast.assetId).not.toBe(steered.assetId)
    expect(recast.source!.lightOrigin).toEqual({ kind: 'user' })
    // Measured on the new pixels: the shadow is cast the steered way.
    expect(Math.abs(recast.source!.castAngle! - wanted)).toBeLessThan(30)
    await settled(page)
    const after = await rawExport(page, m.dir, 'boat-recast.png')
    const c = darkCentroid(base.data, after.data, after.width, after.height)
    console.log(`boat, shipped model, re-cast at ${wanted.toFixed(0)} degrees: shadow centroid (${c.x.toFixed(0)}, ${c.y.toFixed(0)}), contact (${src.contact.x.toFixed(0)}, ${src.contact.y.toFixed(0)})`)
    expect(c.x).toBeGreaterThan(src.contact.x)
    expect(c.y).toBeGreaterThan(src.contact.y - 40)
    // The screenshot for docs/generate-shadow.png (written there with UMBRA_WRITE_DOCS_SCREENSHOT=1),
    // without the export notices over the panel.
    while ((await page.locator('.toast-close').count()) > 0) await page.locator('.toast-close').first().click()
    await page.locator('.app').screenshot({ path: join(m.dir, 'generate-shadow.png') })
    if (process.env.UMBRA_WRITE_DOCS_SCREENSHOT) copyFileSync(join(m.dir, 'generate-shadow.png'), join(import.meta.dirname, '..', '..', 'docs', 'generate-shadow.png'))
  })
})
