import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import type { Page } from 'playwright-core'
import { pngClaiming } from '../helpers/images'
import { chooseFiles, composition, download, PHOTO, reload, startHarness, waitLayers, type Harness } from './harness'

/** Bad input in a real browser: each gets a clear message in the UI, and the composition is untouched. */
let h: Harness
let page: Page

beforeAll(async () => {
  h = await startHarness() // the sample opens: something to keep untouched
  page = await h.newPage()
  await waitLayers(page, 2)
})
afterAll(async () => {
  await h?.close()
})

async function expectRefused(open: () => Promise<void>, message: RegExp) {
  const before = await composition(page)
  await page.evaluate(() => (window as unknown as { __umbra: { store: { set(p: object): void } } }).__umbra.store.set({ toasts: [] }))
  await open()
  const toast = page.locator('[data-testid="toast-error"]').last()
  await toast.waitFor()
  expect(await toast.textContent()).toMatch(message)
  expect(await composition(page)).toEqual(before)
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(h.dir, name)
  writeFileSync(p, bytes)
  return p
}

describe('bad input', () => {
  it('a zero-byte photo', async () => {
    await expectRefused(() => chooseFiles(page, 'open-photo', file('empty.jpg', '')), /empty\.jpg is empty \(0 bytes\)/)
  })

  it('a truncated JPEG', async () => {
    const jpg = readFileSync(PHOTO)
    await expectRefused(() => chooseFiles(page, 'open-photo', file('cut.jpg', jpg.subarray(0, jpg.length >> 1))), /cut\.jpg is damaged or truncated/)
  })

  it('a corrupt file and a mislabelled one', async () => {
    await expectRefused(() => chooseFiles(page, 'insert-object', file('notes.png', 'these are notes, not a picture')), /notes\.png is not a readable image/)
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#0f0' } }).gif().toBuffer()
    await expectRefused(() => chooseFiles(page, 'insert-object', file('anim.webp', gif)), /anim\.webp is gif; Umbra opens JPEG, PNG and WebP/)
  })

  it('a decompression bomb', async () => {
    const bomb = file('bomb.png', await pngClaiming(30000, 30000))
    await expectRefused(() => chooseFiles(page, 'open-photo', bomb), /bomb\.png .*(more than the 100 MP limit|not a readable image)/)
  })

  it('a path that no longer exists (recent files)', async () => {
    const gone = join(h.dir, 'moved-away.umbra')
    await h.settings.addRecent({ path: gone, kind: 'project', name: 'moved-away.umbra' })
    await reload(page)
    await page.click('[data-testid="open-sample"]')
    await waitLayers(page, 2)
    await page.click('[data-testid="recent-files"]')
    await expectRefused(() => page.click('[data-testid="recent-item"]:has-text("moved-away.umbra")'), /moved-away\.umbra does not exist \(it may have been moved or deleted\)/)
  })

  it('a project from a newer version, and one with a missing image', async () => {
    const saved = join(h.dir, 'ok.umbra')
    await download(page, () => page.click('[data-testid="save-project"]'), saved)
    const bytes = readFileSync(saved)
    const len = bytes.readUInt32LE(12)
    const manifest = JSON.parse(bytes.subarray(16, 16 + len).toString('utf8'))
    const rewrite = (edit: (m: { document: { version: number; app: string }; entries: unknown[] }) => void) => {
      const m = structuredClone(manifest)
      edit(m)
      const json = Buffer.from(JSON.stringify(m))
      const head = Buffer.from(bytes.subarray(0, 16))
      head.writeUInt32LE(json.length, 12)
      return Buffer.concat([head, json, bytes.subarray(16 + len)])
    }
    const future = file('future.umbra', rewrite((m) => ((m.document.version = 99), (m.document.app = '9.0.0'))))
    await expectRefused(() => chooseFiles(page, 'open-project', future), /saved by a newer version of Umbra \(Umbra 9\.0\.0\).*Update Umbra/)
    const missing = file('missing.umbra', rewrite((m) => (m.entries = m.entries.slice(1))))
    await expectRefused(() => chooseFiles(page, 'open-project', missing), /missing\.umbra cannot be opened: the image .* is missing or damaged inside the file/)
    await expectRefused(() => chooseFiles(page, 'open-project', PHOTO), /evening-glow\.jpg is not an Umbra project/)
  })
})
