import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { writeImage, type RawImage } from '../../../src/core/image'
import { checkPairFolder, findPairs, formatPairReport } from '../../../src/jobs/finetune/pairs'
import { splitPairs } from '../../../src/jobs/finetune/dataset'
import { makeTinyPair, writePairFolder } from './fixtures'

let root: string

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-ft-pairs-'))
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

async function writeFolderPair(dir: string, imgs: Partial<Record<'noshadow' | 'shadow' | 'object' | 'object-shadow', RawImage>>) {
  await fs.mkdir(dir, { recursive: true })
  for (const [name, img] of Object.entries(imgs)) await writeImage(join(dir, `${name}.png`), img!)
}

describe('fine-tune pairs: finding and checking', () => {
  it('accepts good pairs in the pair format and derives a missing object-shadow mask close to the true one', async () => {
    const dir = join(root, 'good')
    await writePairFolder(dir, 3, { withObjectShadow: false })
    const report = await checkPairFolder(dir, 40)
    expect(report.rejected).toEqual([])
    expect(report.accepted.map((p) => p.id)).toEqual(['p000', 'p001', 'p002'])
    expect(report.derivedObjectShadow).toBe(3)
    expect(report.unknownOccluders).toBe(3)
    const p = report.accepted[0]
    expect(p.given.objectShadow).toBe(false)
    expect(p.derived.join(' ')).toMatch(/derived from the difference/)
    expect(p.derived.join(' ')).toMatch(/unknown: left out of the attention loss/)
    // Compare with the true mask of the same pair, framed identically (48 px picture -> 40 px work size).
    const truth = await checkPairFolder(join(root, 'good-truth'), 40).catch(() => null)
    expect(truth).toBeNull() // folder does not exist: clear error, not a crash
    const withMask = join(root, 'good-mask')
    await writePairFolder(withMask, 1, { withObjectShadow: true })
    const given = (await checkPairFolder(withMask, 40)).accepted[0]
    let inter = 0, union = 0
    for (let i = 0; i < given.objectShadow.length; i++) {
      const a = given.objectShadow[i] > 0, b = p.objectShadow[i] > 0
      if (a && b) inter++
      if (a || b) union++
    }
    expect(inter / union).toBeGreaterThan(0.6)
    expect(formatPairReport(report)).toContain('3 pair(s) accepted, 0 rejected')
  })

  it('reads the flat layout and lists incomplete flat pairs', async () => {
    const dir = join(root, 'flat')
    await fs.mkdir(dir, { recursive: true })
    const a = makeTinyPair(7)
    await writeImage(join(dir, 'chair.noshadow.png'), a.noShadow)
    await writeImage(join(dir, 'chair.shadow.jpg'), a.shadow, { quality: 98 })
    await writeImage(join(dir, 'chair.mask.png'), a.object)
    await writeImage(join(dir, 'lamp.noshadow.png'), a.noShadow)
    await writeImage(join(dir, 'lamp.mask.png'), a.object)
    await fs.writeFile(join(dir, 'notes.txt'), 'not a pair')
    const found = await findPairs(dir)
    expect(found.sources.map((s) => [s.id, s.layout])).toEqual([['chair', 'flat']])
    expect(found.rejected).toHaveLength(1)
    expect(found.rejected[0].id).toBe('lamp')
    expect(found.rejected[0].reasons[0]).toMatch(/missing lamp\.shadow/)
    const report = await checkPairFolder(dir, 40)
    expect(report.accepted.map((p) => p.id)).toEqual(['chair'])
  })

  it('rejects bad pairs with a reason each, and never uses them', async () => {
    const dir = join(root, 'bad')
    const good = makeTinyPair(3)
    // size mismatch
    const small = makeTinyPair(3, 40)
    await writeFolderPair(join(dir, 'size'), { noshadow: good.noShadow, shadow: small.shadow, object: good.object })
    // empty mask
    await writeFolderPair(join(dir, 'empty-mask'), { noshadow: good.noShadow, shadow: good.shadow, object: { ...good.object, data: new Uint8Array(good.object.data.length) } })
    // identical pictures
    await writeFolderPair(join(dir, 'same'), { noshadow: good.noShadow, shadow: good.noShadow, object: good.object })
    // swapped pictures (the "shadow" one is brighter)
    await writeFolderPair(join(dir, 'swapped'), { noshadow: good.shadow, shadow: good.noShadow, object: good.object })
    // darkened far from the object (a corner), not its shadow
    const far = new Uint8Array(good.noShadow.data)
    for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) if (x < 10 || y > 40) for (let c = 0; c < 3; c++) far[(y * 48 + x) * 3 + c] *= 0.5
    await writeFolderPair(join(dir, 'far'), { noshadow: good.noShadow, shadow: { ...good.noShadow, data: far }, object: good.object })
    // exposure changed everywhere
    const dim = good.shadow.data.map((v) => Math.round(v * 0.6))
    await writeFolderPair(join(dir, 'exposure'), { noshadow: good.noShadow, shadow: { ...good.shadow, data: dim }, object: good.object })
    // missing shadow picture
    await writeFolderPair(join(dir, 'missing'), { noshadow: good.noShadow, object: good.object })
    // not an image
    await writeFolderPair(join(dir, 'corrupt'), { noshadow: good.noShadow, object: good.object })
    await fs.writeFile(join(dir, 'corrupt', 'shadow.png'), 'this is not a png')
    // one good pair among them
    await writeFolderPair(join(dir, 'zz-good'), { noshadow: good.noShadow, shadow: good.shadow, object: good.object })

    const report = await checkPairFolder(dir, 40)
    expect(report.accepted.map((p) => p.id)).toEqual(['zz-good'])
    const why = Object.fromEntries(report.rejected.map((r) => [r.id, r.reasons.join('; ')]))
    expect(Object.keys(why).sort()).toEqual(['corrupt', 'empty-mask', 'exposure', 'far', 'missing', 'same', 'size', 'swapped'])
    expect(why.size).toMatch(/is 40x40 but the shadow-free picture is 48x48/)
    expect(why['empty-mask']).toMatch(/object mask is empty/)
    expect(why.same).toMatch(/identical/)
    expect(why.swapped).toMatch(/brighter/)
    expect(why.far).toMatch(/mostly away from the object/)
    expect(why.exposure).toMatch(/differ almost everywhere/)
    expect(why.missing).toMatch(/missing shadow\.png/)
    expect(why.corrupt).toMatch(/picture with the shadow: .*not a readable image/)
    expect(formatPairReport(report)).toContain('rejected far')
  })

  it('splits by id deterministically, keeping at least one training pair', () => {
    const ids = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}` }))
    const a = splitPairs(ids, 0.2)
    const b = splitPairs([...ids].reverse(), 0.2)
    expect(a.val).toHaveLength(4)
    expect(a.train).toHaveLength(16)
    expect(new Set(a.val.map((p) => p.id))).toEqual(new Set(b.val.map((p) => p.id)))
    expect(splitPairs(ids.slice(0, 3), 0.2).val).toHaveLength(0)
  })
})
