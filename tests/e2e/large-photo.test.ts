import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import { chooseFiles, composition, CUTOUT, editorState, PHOTO, startHarness, waitLayers, type Harness } from './harness'

/** A 50-megapixel photo opens without freezing the UI; closing with unsaved changes asks first. */
let h: Harness
let page: Page

beforeAll(async () => {
  h = await startHarness({ openSampleOnStart: false })
  page = await h.newPage()
})
afterAll(async () => {
  await h?.close()
})

describe('large photos', () => {
  it('opens a 50 MP photo as a downscaled preview while the page keeps painting', async () => {
    const big = join(h.dir, 'big-50mp.jpg')
    await sharp(PHOTO).resize(8660, 5774, { fit: 'fill' }).jpeg({ quality: 80 }).toFile(big)
    // count animation frames while the photo is read, decoded and downscaled on the Node side
    await page.evaluate(() => {
      const w = window as unknown as { __frames: number[]; __stop: boolean }
      w.__frames = []
      w.__stop = false
      const tick = (t: number) => {
        w.__frames.push(t)
        if (!w.__stop) requestAnimationFrame(tick)
      }
      requestAnimationFrame(tick)
    })
    await chooseFiles(page, 'open-photo', big)
    await page.waitForSelector('[data-testid="busy"]')
    // the page answers while the import is in flight
    expect(await page.evaluate(() => 1 + 1)).toBe(2)
    await waitLayers(page, 1)
    const gaps = await page.evaluate(() => {
      const w = window as unknown as { __frames: number[]; __stop: boolean }
      w.__stop = true
      const f = w.__frames
      return { frames: f.length, maxGap: Math.max(...f.slice(1).map((t, i) => t - f[i])) }
    })
    console.log(`50 MP open: ${gaps.frames} frames painted, longest frame gap ${gaps.maxGap.toFixed(0)} ms`)
    const c = await composition(page)
    expect([c.width, c.height]).toEqual([8660, 5774])
    const preview = await page.evaluate(() => [...(window as unknown as { __umbra: { store: { previews: Map<string, { width: number; height: number }> } } }).__umbra.store.previews.values()][0])
    expect(Math.max(preview.width, preview.height)).toBeLessThanOrEqual(2048)
  })
})

describe('unsaved changes', () => {
  it('asks before the page is closed with unsaved changes', async () => {
    await chooseFiles(page, 'insert-object', CUTOUT)
    await waitLayers(page, 2)
    expect(await editorState(page, 'dirty')).toBe(true)
    expect(await page.title()).toMatch(/•/)
    const dialog = new Promise<string>((resolve) =>
      page.once('dialog', async (d) => {
        resolve(d.type())
        await d.dismiss()
      }),
    )
    await page.mouse.click(5, 200) // a user gesture, which beforeunload prompts require
    await page.close({ runBeforeUnload: true })
    expect(await dialog).toBe('beforeunload')
  })
})
