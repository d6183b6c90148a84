import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import type { ObjectLayer } from '../../src/shared/project'
import { composition, CUTOUT, download, drag, handleToPage, PHOTO, startHarness, waitLayers, type Harness } from './harness'

/** Drag and drop, rotation with the handle, JPEG export with a quality setting. */
let h: Harness
let page: Page

beforeAll(async () => {
  h = await startHarness({ openSampleOnStart: false })
  page = await h.newPage()
})
afterAll(async () => {
  await h?.close()
})

/** Drops files on the canvas as the browser does when files are dragged in from the desktop. */
async function dropFiles(files: { name: string; type: string; path: string }[]) {
  // (base64 only to hand the test's file to the page; the editor itself uploads binary)
  const payload = files.map((f) => ({ name: f.name, type: f.type, data: readFileSync(f.path).toString('base64') }))
  await page.evaluate((list) => {
    const dt = new DataTransfer()
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0))], f.name, { type: f.type }))
    const target = document.querySelector('[data-testid="canvas"]')!
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }))
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
  }, payload)
}

describe('more editing', () => {
  it('drag and drop: the first image becomes the photo, a PNG cut-out becomes a layer', async () => {
    await dropFiles([{ name: 'evening-glow.jpg', type: 'image/jpeg', path: PHOTO }])
    await waitLayers(page, 1)
    await dropFiles([{ name: 'boat.png', type: 'image/png', path: CUTOUT }])
    await waitLayers(page, 2)
    expect((await composition(page)).layers.map((l) => l.kind)).toEqual(['photo', 'object'])
  })

  it('rotates with the rotation handle, one undo step', async () => {
    const before = (await composition(page)).layers[1] as ObjectLayer
    const mtr = await handleToPage(page, before.id, 'mtr')
    const centre = await handleToPage(page, before.id, 'tl').then(async (tl) => {
      const br = await handleToPage(page, before.id, 'br')
      return { x: (tl.x + br.x) / 2, y: (tl.y + br.y) / 2 }
    })
    // swing the handle a quarter turn clockwise about the centre
    const r = Math.hypot(mtr.x - centre.x, mtr.y - centre.y)
    await drag(page, mtr, { x: centre.x + r, y: centre.y }, 16)
    const after = (await composition(page)).layers[1] as ObjectLayer
    expect(after.transform.angle).toBeGreaterThan(80)
    expect(after.transform.angle).toBeLessThan(100)
    expect(after.transform.x).toBeCloseTo(before.transform.x, 0)
    await page.click('[data-testid="undo"]')
    expect(((await composition(page)).layers[1] as ObjectLayer).transform.angle).toBe(before.transform.angle)
    await page.click('[data-testid="redo"]')
  })

  it('exports JPEG with the chosen quality, at the original size', async () => {
    await page.click('[data-testid="export"]')
    await page.selectOption('[data-testid="export-format"]', 'jpeg')
    await page.locator('[data-testid="export-quality"]').fill('40')
    const low = join(h.dir, 'q40.jpg')
    expect(await download(page, () => page.click('[data-testid="export-confirm"]'), low)).toMatch(/\.jpg$/)
    await page.click('[data-testid="export"]')
    expect(await page.locator('[data-testid="export-format"]').inputValue()).toBe('jpeg') // remembered
    await page.locator('[data-testid="export-quality"]').fill('95')
    const high = join(h.dir, 'q95.jpg')
    await download(page, () => page.click('[data-testid="export-confirm"]'), high)
    const [a, b] = await Promise.all([sharp(low).metadata(), sharp(high).metadata()])
    expect([a.format, a.width, a.height]).toEqual(['jpeg', 2560, 1600])
    expect([b.width, b.height]).toEqual([2560, 1600])
    expect(readFileSync(high).length).toBeGreaterThan(readFileSync(low).length * 1.5)
    expect(h.settings.get().preferences).toMatchObject({ exportFormat: 'jpeg', jpegQuality: 95 })
  })
})
