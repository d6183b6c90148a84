import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { planBatch, isSystemFile, parsePlacement, resolvePlacement } from '../../../src/jobs/batch'
import { visibleBox } from '../../../src/jobs/batch/placement'
import { removeStaleTempFiles } from '../../../src/jobs/batch/state'
import { reportCsv } from '../../../src/jobs/batch/report'
import { UserError } from '../../../src/core/errors'
import { write } from './fixtures'

let root: string
beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-batch-plan-'))
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | null> {
  try {
    await (typeof p === 'function' ? p() : p)
    return null
  } catch (err) {
    expect(err).toBeInstanceOf(UserError)
    return (err as UserError).code
  }
}

describe('planBatch', () => {
  it('pairs photos with masks, finds cut-outs, reports junk, keeps the folder structure and never walks the output', async () => {
    const inDir = join(root, 'a')
    for (const f of ['p1.jpg', 'p1.mask.png', 'P2.JPEG', 'P2.mask.png', 'cut.png', 'cut.webp', 'photo.jpg', 'x.mask.png', 'readme.md', 'noext', '.DS_Store', 'Thumbs.db', 'desktop.ini', '._p1.jpg', 'bg.jpg']) {
      await write(join(inDir, f), 'x')
    }
    await write(join(inDir, 'sub', 'deeper', 'q.png'), 'x')
    await write(join(inDir, 'sub', 'deeper', 'q.mask.png'), 'x')
    await write(join(inDir, '.hidden', 'h.jpg'), 'x')
    await write(join(inDir, 'results', 'old.jpg'), 'x') // the output folder, inside the input
    const outDir = join(inDir, 'results')

    const flat = await planBatch({ inDir, outDir })
    expect(flat.items.map((i) => [i.rel, i.kind, i.outputs.image.slice(outDir.length + 1)])).toEqual([
      ['P2.JPEG', 'composite', 'P2.JPEG'],
      ['p1.jpg', 'composite', 'p1.jpg'],
    ])
    const why = Object.fromEntries(flat.other.map((o) => [o.rel, `${o.status}: ${o.reason}`]))
    expect(why['sub/']).toMatch(/skipped: subfolder.*--recursive/)
    expect(why['.hidden/']).toMatch(/skipped: hidden folder/)
    expect(why['.DS_Store']).toBe('skipped: system file')
    expect(why['Thumbs.db']).toBe('skipped: system file')
    expect(why['desktop.ini']).toBe('skipped: system file')
    expect(why['._p1.jpg']).toBe('skipped: system file')
    expect(why['readme.md']).toBe('skipped: not an image (.md file)')
    expect(why['noext']).toBe('skipped: not an image (no extension)')
    expect(why['x.mask.png']).toMatch(/skipped: mask without a photo/)
    expect(why['photo.jpg']).toMatch(/failed: missing mask: expected photo\.mask\.png/)
    expect(why['cut.png']).toMatch(/failed: missing mask.*--background/)
    expect(Object.keys(why).some((k) => k.startsWith('results'))).toBe(false)

    const withBg = await planBatch({ inDir, outDir, background: join(inDir, 'bg.jpg'), recursive: true, format: 'png', layers: true, projects: true })
    const items = Object.fromEntries(withBg.items.map((i) => [i.rel, i]))
    expect(items['cut.png'].kind).toBe('cutout')
    expect(items['sub/deeper/q.png']).toMatchObject({ kind: 'composite', outputs: { image: join(outDir, 'sub', 'deeper', 'q.png'), layer: join(outDir, 'sub', 'deeper', 'q.shadow.png'), project: join(outDir, 'sub', 'deeper', 'q.umbra') } })
    expect(items['p1.jpg'].outputs.image).toBe(join(outDir, 'p1.png'))
    // cut.png and cut.webp would both write cut.png: the second one fails, nothing is overwritten
    const clash = withBg.other.find((o) => o.rel === 'cut.webp')
    expect(clash).toMatchObject({ status: 'failed', reason: expect.stringMatching(/also the output of cut\.png/) })
    expect(withBg.other.find((o) => o.rel === 'bg.jpg')).toMatchObject({ kind: 'background', status: 'skipped' })
  })

  it('refuses an output folder equal to the input folder', async () => {
    const inDir = join(root, 'b')
    await write(join(inDir, 'a.jpg'), 'x')
    expect(await codeOf(planBatch({ inDir, outDir: inDir }))).toBe('OUT_IS_IN')
    expect(await codeOf(planBatch({ inDir: join(root, 'missing'), outDir: join(root, 'o') }))).toBe('NOT_FOUND')
  })

  it('knows the system files', () => {
    for (const n of ['.DS_Store', 'Thumbs.db', 'thumbs.db', 'desktop.ini', 'Desktop.ini', '._photo.jpg', '.hidden']) expect(isSystemFile(n)).toBe(true)
    for (const n of ['photo.jpg', 'mask.png', 'desktop.jpg']) expect(isSystemFile(n)).toBe(false)
  })
})

describe('placement rules', () => {
  it('parses anchors, sizes, margins, offsets and explicit positions', async () => {
    expect(parsePlacement('100,200')).toEqual({ type: 'explicit', x: 100, y: 200, scale: 1 })
    expect(parsePlacement('100,200,0.5')).toEqual({ type: 'explicit', x: 100, y: 200, scale: 0.5 })
    expect(parsePlacement('bottom-center,height=40%,margin=20px,offset=5:-10')).toEqual({
      type: 'anchor',
      anchor: 'bottom-centre',
      height: { unit: 'fraction', value: 0.4 },
      margin: { unit: 'px', value: 20 },
      offsetX: 5,
      offsetY: -10,
    })
    expect(parsePlacement('top-left,scale=2')).toMatchObject({ anchor: 'top-left', scale: 2 })
    expect(parsePlacement('')).toMatchObject({ anchor: 'bottom-centre', height: { unit: 'fraction', value: 0.5 } })
    for (const bad of ['middle-earth', 'centre,scale=0', 'centre,height=40', 'centre,scale=1,height=10%', 'top-left,bottom-right', 'centre,tilt=3', '1,2,-1']) {
      expect(await codeOf(() => parsePlacement(bad))).toMatch(/BAD_PLACE|BAD_ARGS/)
    }
  })

  it('anchors the visible part of the cut-out', () => {
    // A 100x200 cut-out whose visible part is the box x 10..89, y 20..179 (80x160).
    const visible = { x: 10, y: 20, width: 80, height: 160 }
    const p = parsePlacement('bottom-centre,height=50%,margin=10%')
    const at = resolvePlacement(p, 1000, 800, 100, 200, visible)
    // visible height 400 (scale 2.5); bottom of the visible part at 800 - 80 = 720; centred horizontally
    expect(at.scale).toBeCloseTo(2.5)
    expect(at.y + (20 + 160) * 2.5).toBeCloseTo(720, 0)
    expect(at.x + (10 + 40) * 2.5).toBeCloseTo(500, 0)
    const tl = resolvePlacement(parsePlacement('top-left,scale=1,margin=0px'), 1000, 800, 100, 200, visible)
    expect(tl).toEqual({ x: -10, y: -20, scale: 1 })
    expect(resolvePlacement(parsePlacement('12.4,7.6,0.5'), 1000, 800, 100, 200)).toEqual({ x: 12, y: 8, scale: 0.5 })
  })

  it('finds the visible box from alpha', () => {
    const w = 5
    const h = 4
    const rgba = new Uint8Array(w * h * 4)
    rgba[(1 * w + 2) * 4 + 3] = 255
    rgba[(2 * w + 3) * 4 + 3] = 200
    rgba[(3 * w + 0) * 4 + 3] = 100 // faint: not visible
    expect(visibleBox(rgba, w, h)).toEqual({ x: 2, y: 1, width: 2, height: 2 })
    expect(visibleBox(new Uint8Array(16), 2, 2)).toBeNull()
  })
})

describe('report and temp files', () => {
  it('quotes CSV cells that need it', () => {
    const csv = reportCsv([{ input: 'a,b.jpg', kind: 'composite', status: 'failed', reason: 'said "no"\nthen', outputs: ['x.jpg', 'x.umbra'] }])
    expect(csv.split('\n')[1]).toBe('"a,b.jpg",composite,failed,"said ""no""')
    expect(csv).toContain('x.jpg;x.umbra')
  })

  it('removes temp files of dead processes only', async () => {
    const dir = join(root, 'tmpfiles')
    await write(join(dir, '.a.jpg.999999.0badcafe.tmp'), 'partial')
    await write(join(dir, 'sub', '.b.png.999998.deadbeef.tmp'), 'partial')
    await write(join(dir, `.c.jpg.${process.pid}.00000000.tmp`), 'mine, in progress')
    await write(join(dir, 'a.jpg'), 'whole')
    expect(await removeStaleTempFiles(dir)).toBe(2)
    expect((await fs.readdir(dir)).sort()).toEqual([`.c.jpg.${process.pid}.00000000.tmp`, 'a.jpg', 'sub'])
  })
})
