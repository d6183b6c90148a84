import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import type { ObjectLayer } from '../../src/shared/project'
import { composition, CUTOUT, chooseFiles, drag, editorState, photoToPage, startHarness, waitLayers, type Harness } from './harness'

/** First start, the layers panel and the view (zoom and pan), in a real browser. */
let h: Harness
let page: Page

beforeAll(async () => {
  h = await startHarness() // fresh settings: first start
  page = await h.newPage()
})
afterAll(async () => {
  await h?.close()
})

const rows = () => page.locator('[data-testid="layers-panel"] [data-testid="layer-row"]')
const viewport = () => page.evaluate(() => [...(window as unknown as { __umbra: { canvas: { current: { canvas: { viewportTransform: number[] } } } } }).__umbra.canvas.current.canvas.viewportTransform])

describe('first start', () => {
  it('opens the bundled sample photo with its cut-out, once', async () => {
    await waitLayers(page, 2)
    const c = await composition(page)
    expect(c.layers.map((l) => l.kind)).toEqual(['photo', 'object'])
    expect([c.width, c.height]).toEqual([2560, 1600])
    expect(await rows().count()).toBe(2)
    expect(h.settings.get().preferences.openSampleOnStart).toBe(false)
  })
})

describe('layers panel', () => {
  it('lists layers top first, selects on click, renames on double-click', async () => {
    await chooseFiles(page, 'insert-object', CUTOUT)
    await waitLayers(page, 3)
    expect(await rows().evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))).toEqual(['object', 'object', 'photo'])
    await rows().nth(1).click()
    const c = await composition(page)
    expect(await editorState(page, 'selection')).toBe(c.layers[1].id)
    await rows().nth(1).dblclick()
    const input = page.locator('[data-testid="layer-rename-input"]')
    await input.fill('Front boat')
    await input.press('Enter')
    expect((await composition(page)).layers[1].name).toBe('Front boat')
    await page.click('[data-testid="undo"]')
    expect((await composition(page)).layers[1].name).not.toBe('Front boat')
    await page.click('[data-testid="redo"]')
  })

  it('reorders, hides, locks, flips, duplicates and deletes, each one undo step', async () => {
    const c0 = await composition(page)
    const id = c0.layers[1].id
    await rows().nth(1).click()
    await page.click('[data-testid="layer-up"]')
    expect((await composition(page)).layers.map((l) => l.id).indexOf(id)).toBe(2)
    await page.click('[data-testid="undo"]')
    expect((await composition(page)).layers.map((l) => l.id).indexOf(id)).toBe(1)

    await rows().nth(1).locator('[data-testid="layer-visibility"]').click()
    expect((await composition(page)).layers[1].visible).toBe(false)
    await rows().nth(1).locator('[data-testid="layer-visibility"]').click()
    expect((await composition(page)).layers[1].visible).toBe(true)

    // a locked layer cannot be dragged on the canvas
    await rows().nth(0).locator('[data-testid="layer-lock"]').click()
    const top = (await composition(page)).layers[2] as ObjectLayer
    expect(top.locked).toBe(true)
    const at = await photoToPage(page, top.transform.x, top.transform.y)
    await drag(page, at, { x: at.x + 80, y: at.y })
    expect(((await composition(page)).layers[2] as ObjectLayer).transform).toEqual(top.transform)
    await rows().nth(0).locator('[data-testid="layer-lock"]').click()

    await rows().nth(0).click()
    await page.click('[data-testid="flip-h"]')
    expect(((await composition(page)).layers[2] as ObjectLayer).transform.flipX).toBe(!top.transform.flipX)
    await page.keyboard.press('Control+d')
    expect((await composition(page)).layers).toHaveLength(4)
    await page.click('[data-testid="layer-delete"]')
    expect((await composition(page)).layers).toHaveLength(3)
    await page.keyboard.press('Delete') // nothing selected after delete: no-op
    expect((await composition(page)).layers).toHaveLength(3)
    await page.click('[data-testid="undo"]')
    expect((await composition(page)).layers).toHaveLength(4)
  })

  it('moves and scales through the properties panel', async () => {
    await rows().nth(0).click()
    await page.fill('[data-testid="prop-x"]', '1000')
    await page.press('[data-testid="prop-x"]', 'Enter')
    await page.fill('[data-testid="prop-scale"]', '50')
    await page.press('[data-testid="prop-scale"]', 'Enter')
    const c = await composition(page)
    const top = c.layers[c.layers.length - 1] as ObjectLayer
    expect(top.transform.x).toBe(1000)
    expect(top.transform.scaleX).toBeCloseTo(0.5, 6)
  })
})

describe('zoom and pan', () => {
  it('Ctrl+0 fits, Ctrl+1 is 100%, Ctrl+= / Ctrl+- zoom, buttons too', async () => {
    await page.locator('[data-testid="canvas"]').click({ position: { x: 4, y: 4 } })
    await page.keyboard.press('Control+1')
    expect(await editorState<number>(page, 'zoom')).toBe(1)
    await page.keyboard.press('Control+=')
    expect(await editorState<number>(page, 'zoom')).toBeCloseTo(1.25, 5)
    await page.keyboard.press('Control+-')
    expect(await editorState<number>(page, 'zoom')).toBeCloseTo(1, 5)
    await page.keyboard.press('Control+0')
    const fit = await editorState<number>(page, 'zoom')
    expect(fit).toBeLessThan(1)
    // the whole photo is visible when fitted
    const box = (await page.locator('[data-testid="canvas"]').boundingBox())!
    const tl = await photoToPage(page, 0, 0)
    const br = await photoToPage(page, 2560, 1600)
    expect(tl.x).toBeGreaterThanOrEqual(box.x)
    expect(br.x).toBeLessThanOrEqual(box.x + box.width)
    expect(br.y).toBeLessThanOrEqual(box.y + box.height)
    await page.click('[data-testid="zoom-in"]')
    expect(await editorState<number>(page, 'zoom')).toBeGreaterThan(fit)
    await page.click('[data-testid="zoom-fit"]')
    expect(await editorState<number>(page, 'zoom')).toBeCloseTo(fit, 6)
  })

  it('the wheel zooms about the pointer', async () => {
    const box = (await page.locator('[data-testid="canvas"]').boundingBox())!
    const px = box.x + box.width * 0.3
    const py = box.y + box.height * 0.6
    const before = await viewport()
    const zoom0 = before[0]
    // the photo point under the pointer stays under the pointer
    const scene = [(px - box.x - before[4]) / zoom0, (py - box.y - before[5]) / zoom0]
    await page.mouse.move(px, py)
    await page.mouse.wheel(0, -300)
    await page.waitForFunction((z) => (window as unknown as { __umbra: { store: { getState(): { zoom: number } } } }).__umbra.store.getState().zoom > z, zoom0)
    const after = await viewport()
    expect(after[0]).toBeGreaterThan(zoom0)
    const again = await photoToPage(page, scene[0], scene[1])
    expect(again.x).toBeCloseTo(px, 0)
    expect(again.y).toBeCloseTo(py, 0)
  })

  it('Space+drag pans without moving any layer', async () => {
    const before = await viewport()
    const c0 = await composition(page)
    const box = (await page.locator('[data-testid="canvas"]').boundingBox())!
    const from = { x: box.x + box.width / 2, y: box.y + box.height / 2 }
    await page.keyboard.down('Space')
    await drag(page, from, { x: from.x + 120, y: from.y - 70 })
    await page.keyboard.up('Space')
    const after = await viewport()
    expect(after[4] - before[4]).toBeCloseTo(120, 0)
    expect(after[5] - before[5]).toBeCloseTo(-70, 0)
    expect(await composition(page)).toEqual(c0)
  })
})
