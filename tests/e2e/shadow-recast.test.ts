import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { drag, photoToPage, settled, waitLayers } from './harness'
import { darkCentroid, placeSampleCutout, rawExport as rawExportTo, recastForLight, shadowLayerOf, startModelHarness, type ModelHarness } from './model-harness'

/**
 * Steering the light with a model that works in the cast frame (src/engine/cast-frame.ts): the
 * steered direction goes to the model, which casts the shadow anew that way ("Regenerate for this
 * light"), instead of the generated layer only being turned about the contact point.
 *
 * The model is the hand-set test model (tests/helpers/geometric-shadow-model.ts) marked as a
 * cast-frame model: it casts down its input, so the pipeline's turn decides where the shadow goes.
 * It sees no occluder shadows and has no direction output, so the first generation goes away from
 * the sunset glow in the bundled photo (engine/sun-cue.ts): forward and to the right of the boat.
 */
let m: ModelHarness
let page: Page

beforeAll(async () => {
  m = await startModelHarness('recast', { model: { castFrame: true } })
  page = m.page
})
afterAll(async () => {
  await m?.close()
})

const rawExport = (name: string) => rawExportTo(page, m.dir, name)

const shadowLayer = () => shadowLayerOf(page)

describe('re-cast for a steered light (cast-frame model)', () => {
  it('generates away from the sun in the photo, then re-casts the shadow the way the light was steered', async () => {
    await placeSampleCutout(page)
    const base = await rawExport('base.png')
    await page.click('[data-testid="generate-shadow"]')
    await waitLayers(page, 3)
    const first = await shadowLayer()
    const src = first.source!
    // Away from the glow (upper left of the boat): down and to the right.
    expect(src.castAngle!).toBeGreaterThan(20)
    expect(src.castAngle!).toBeLessThan(80)
    // The panel says where the direction came from (this model has no direction output and its maps see no shadows).
    expect(src.lightOrigin?.kind).toBe('sun')
    expect(await page.textContent('[data-testid="light-origin"]')).toContain('away from the sun')
    const generated = await rawExport('generated.png')
    const c0 = darkCentroid(base.data, generated.data, generated.width, generated.height)
    expect(c0.x).toBeGreaterThan(src.contact.x)

    // Steer to the left with the handle: at first the layer is only turned about the contact point.
    const tip = await page.locator('[data-testid="light-handle"]').boundingBox()
    const from = { x: tip!.x + tip!.width / 2, y: tip!.y + tip!.height / 2 }
    await drag(page, from, await photoToPage(page, src.contact.x - src.castLength, src.contact.y))
    await settled(page)
    const steered = await shadowLayer()
    expect(Math.abs(steered.source!.light!.angle)).toBeGreaterThan(150)
    const turnedBy = Math.abs(((steered.transform.angle + 180) % 360) - 180)
    expect(turnedBy).toBeGreaterThan(120)

    // Re-cast: the model casts it that way, so the new layer needs (almost) no turn.
    const recast = await recastForLight(page)
    expect(recast.assetId).not.toBe(steered.assetId)
    expect(recast.id).toBe(first.id)
    expect(recast.source!.light).toEqual(steered.source!.light)
    expect(recast.source!.lightOrigin).toEqual({ kind: 'user' })
    expect(await page.textContent('[data-testid="light-origin"]')).toContain('steered by you')
    expect(Math.abs(recast.source!.castAngle!)).toBeGreaterThan(150) // measured on the new pixels
    expect(Math.abs(((recast.transform.angle + 180) % 360) - 180)).toBeLessThan(30)
    await settled(page)
    const after = await rawExport('recast.png')
    const c1 = darkCentroid(base.data, after.data, after.width, after.height)
    console.log(`shadow centroid x: generated ${c0.x.toFixed(0)}, re-cast ${c1.x.toFixed(0)}; contact ${src.contact.x.toFixed(0)}`)
    expect(c1.x).toBeLessThan(src.contact.x)
  })
})
