import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import type { ObjectLayer } from '../../src/shared/project'
import { chooseFiles, composition, CUTOUT, download, drag, editorState, exportPng, handleToPage, PHOTO, photoToPage, reload, startHarness, waitLayers, type Harness } from './harness'

/**
 * The "Done when", end to end in a real browser against the real handlers: open a real
 * photograph, insert a cut-out, move and scale it with the mouse, undo and redo, export and check
 * the exported pixels; save, reopen and get the same export.
 */
let h: Harness
let page: Page

beforeAll(async () => {
  h = await startHarness({ openSampleOnStart: false })
  page = await h.newPage()
})
afterAll(async () => {
  await h?.close()
})

async function objectLayer(): Promise<ObjectLayer> {
  const c = await composition(page)
  return c.layers.find((l) => l.kind === 'object') as ObjectLayer
}

/** The expected export, rendered independently here: the photo with the resized cut-out pasted at the layer's place. */
async function expectedRender(layer: ObjectLayer): Promise<{ data: Buffer; left: number; top: number; w: number; h: number }> {
  const meta = await sharp(CUTOUT).metadata()
  const w = Math.round(meta.width! * layer.transform.scaleX)
  const hgt = Math.round(meta.height! * layer.transform.scaleY)
  const left = Math.round(layer.transform.x - w / 2)
  const top = Math.round(layer.transform.y - hgt / 2)
  const obj = await sharp(CUTOUT).resize(w, hgt, { fit: 'fill' }).png().toBuffer()
  const data = await sharp(PHOTO).composite([{ input: obj, left, top }]).removeAlpha().raw().toBuffer()
  return { data, left, top, w, h: hgt }
}

/** Mean absolute difference over a box, in levels (0-255). */
function meanDiff(a: Buffer, b: Buffer, width: number, box: { left: number; top: number; w: number; h: number }): number {
  let sum = 0
  let n = 0
  for (let y = Math.max(0, box.top); y < box.top + box.h; y++)
    for (let x = Math.max(0, box.left); x < Math.min(width, box.left + box.w); x++)
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c
        sum += Math.abs(a[i] - b[i])
        n++
      }
  return sum / n
}

describe('editor in a real browser (Done when)', () => {
  let placed: ObjectLayer
  let firstExport: Buffer

  it('opens a real photograph, shown as a downscaled preview', async () => {
    await chooseFiles(page, 'open-photo', PHOTO)
    await waitLayers(page, 1)
    const c = await composition(page)
    expect([c.width, c.height]).toEqual([2560, 1600])
    expect(c.layers.map((l) => l.kind)).toEqual(['photo'])
    const preview = await page.evaluate(() => {
      const u = (window as unknown as { __umbra: { store: { previews: Map<string, { width: number; height: number }> } } }).__umbra
      return [...u.store.previews.values()][0]
    })
    expect(Math.max(preview.width, preview.height)).toBe(2048) // the 2560 px original stays on the Node side
    expect(await editorState(page, 'dirty')).toBe(false)
  })

  it('inserts a cut-out as a selected layer', async () => {
    await chooseFiles(page, 'insert-object', CUTOUT)
    await waitLayers(page, 2)
    const c = await composition(page)
    expect(c.layers.map((l) => l.kind)).toEqual(['photo', 'object'])
    expect(await editorState(page, 'selection')).toBe(c.layers[1].id)
    expect(await page.locator('[data-testid="layer-row"]').count()).toBe(2)
  })

  it('moves the cut-out with a mouse drag, recorded as one undo step', async () => {
    const before = await objectLayer()
    const zoom = await editorState<number>(page, 'zoom')
    const from = await photoToPage(page, before.transform.x, before.transform.y)
    await drag(page, from, { x: from.x - 180, y: from.y + 90 })
    const after = await objectLayer()
    expect(after.transform.x - before.transform.x).toBeCloseTo(-180 / zoom, 0)
    expect(after.transform.y - before.transform.y).toBeCloseTo(90 / zoom, 0)
    expect(after.transform.scaleX).toBeCloseTo(before.transform.scaleX, 6)
    // the whole drag is ONE step: a single undo puts the layer back where it was
    await page.click('[data-testid="undo"]')
    expect((await objectLayer()).transform).toEqual(before.transform)
    await page.click('[data-testid="redo"]')
    expect((await objectLayer()).transform).toEqual(after.transform)
  })

  it('scales the cut-out by dragging its corner handle (uniformly)', async () => {
    const before = await objectLayer()
    const br = await handleToPage(page, before.id, 'br')
    await drag(page, br, { x: br.x + 60, y: br.y + 60 })
    const after = await objectLayer()
    expect(after.transform.scaleX).toBeGreaterThan(before.transform.scaleX * 1.15)
    expect(after.transform.scaleY / after.transform.scaleX).toBeCloseTo(before.transform.scaleY / before.transform.scaleX, 3)
    placed = after
  })

  it('undoes and redoes with the buttons and with Ctrl+Z / Ctrl+Shift+Z', async () => {
    const scaled = await objectLayer()
    await page.click('[data-testid="undo"]')
    const unscaled = await objectLayer()
    expect(unscaled.transform.scaleX).toBeLessThan(scaled.transform.scaleX)
    await page.click('[data-testid="redo"]')
    expect((await objectLayer()).transform).toEqual(scaled.transform)
    await page.locator('[data-testid="canvas"]').click({ position: { x: 5, y: 5 } }) // focus the editor, deselect
    await page.keyboard.press('Control+z')
    expect((await objectLayer()).transform).toEqual(unscaled.transform)
    await page.keyboard.press('Control+Shift+Z')
    expect((await objectLayer()).transform).toEqual(scaled.transform)
    expect(await editorState(page, 'canRedo')).toBe(false)
  })

  it('exports at the ORIGINAL resolution with the object where it was placed', async () => {
    // zoom changes nothing in the export
    await page.keyboard.press('Control+1')
    expect(await page.locator('[data-testid="zoom-level"]').textContent()).toBe('100%')
    const out = join(h.dir, 'export-1.png')
    const name = await exportPng(page, out)
    expect(name).toMatch(/\.png$/)
    const meta = await sharp(out).metadata()
    expect([meta.width, meta.height]).toEqual([2560, 1600]) // the original, not the 2048 preview or the screen
    const got = await sharp(out).removeAlpha().raw().toBuffer()
    const want = await expectedRender(placed)
    // where the layer says the object is, the export matches an independent render...
    expect(meanDiff(got, want.data, 2560, want)).toBeLessThan(2)
    // ...and differs from the bare photo there (the object really is in the picture)
    const photo = await sharp(PHOTO).removeAlpha().raw().toBuffer()
    expect(meanDiff(got, photo, 2560, want)).toBeGreaterThan(15)
    // away from the object the photo is untouched
    expect(meanDiff(got, photo, 2560, { left: 0, top: 0, w: 400, h: 300 })).toBeLessThan(0.5)
    firstExport = got
  })

  it('saves the project, reopens it (upload and recent files) and gets the same export', async () => {
    const saved = join(h.dir, 'composition.umbra')
    const name = await download(page, () => page.click('[data-testid="save-project"]'), saved)
    expect(name).toMatch(/\.umbra$/)
    expect(await editorState(page, 'dirty')).toBe(false)
    const original = await composition(page)

    // a fresh editor (reload), then Open project through the file picker
    await reload(page)
    expect((await composition(page)).layers).toHaveLength(0)
    await chooseFiles(page, 'open-project', saved)
    await waitLayers(page, 2)
    expect(await composition(page)).toEqual(original)
    const out2 = join(h.dir, 'export-2.png')
    await exportPng(page, out2)
    const again = await sharp(out2).removeAlpha().raw().toBuffer()
    expect(again.equals(firstExport)).toBe(true)

    // recent files (the list is kept in settings; here a project opened earlier by path)
    await h.settings.addRecent({ path: saved, kind: 'project', name: 'composition.umbra' })
    await reload(page)
    await page.click('[data-testid="recent-files"]')
    await page.click('[data-testid="recent-item"]:has-text("composition.umbra")')
    await waitLayers(page, 2)
    expect(await composition(page)).toEqual(original)
    expect(await page.locator('[data-testid="doc-name"]').textContent()).toContain('composition')
  })
})
