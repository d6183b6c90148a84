import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import sharp from 'sharp'
import { runBatch, PauseControl, parsePlacement, type BatchEvent } from '../../../src/jobs/batch'
import { decodeProject } from '../../../src/core/project-file'
import { renderComposition } from '../../../src/core/compose'
import { hashTree, listFiles, makeMixedFolder, makeTinyModel, composite, write } from './fixtures'

let root: string
let modelDir: string

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-batch-'))
  modelDir = await makeTinyModel(join(root, 'model'))
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

async function raw(path: string) {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

describe('runBatch on a mixed folder', () => {
  it('processes good inputs, reports junk, corrupt and missing-mask files, and never touches the inputs', async () => {
    const dir = join(root, 'mixed')
    const { inDir, background } = await makeMixedFolder(dir)
    const before = await hashTree(inDir)
    const outDir = join(dir, 'out')
    const events: BatchEvent[] = []
    const summary = await runBatch(
      { inDir, outDir, background, place: parsePlacement('bottom-centre,height=40%'), recursive: true, layers: true, projects: true, modelDir, workers: 0 },
      { onEvent: (e) => events.push(e), appVersion: 'test' },
    )
    expect(await hashTree(inDir)).toEqual(before)

    const report = JSON.parse(await fs.readFile(join(outDir, 'report.json'), 'utf8'))
    const byInput = Object.fromEntries(report.rows.map((r: { input: string }) => [r.input, r]))
    const status = (k: string) => byInput[k]?.status
    expect(status('good1.jpg')).toBe('done')
    expect(status('good2.png')).toBe('done')
    expect(status('sub/deep.jpg')).toBe('done')
    expect(status('cut1.png')).toBe('done')
    for (const junk of ['.DS_Store', 'Thumbs.db', 'desktop.ini', '._good1.jpg']) {
      expect(byInput[junk]).toMatchObject({ status: 'skipped', kind: 'system' })
    }
    expect(byInput['notes.txt']).toMatchObject({ status: 'skipped', kind: 'other' })
    expect(byInput['orphan.mask.png']).toMatchObject({ status: 'skipped', kind: 'mask' })
    expect(byInput['corrupt.jpg'].status).toBe('failed')
    expect(byInput['corrupt.jpg'].reason).toMatch(/damaged|truncated|corrupt/i)
    expect(byInput['nomask.jpg'].status).toBe('failed')
    expect(byInput['nomask.jpg'].reason).toMatch(/missing mask.*nomask\.mask\.png/)
    expect(byInput['huge.png'].status).toBe('failed')
    expect(byInput['huge.png'].reason).toMatch(/pixels|limit/)
    expect(summary).toMatchObject({ done: 4, failed: 3 })
    expect(report.summary.failed).toBe(3)
    expect(byInput['good1.jpg'].timings.total).toBeGreaterThan(0)

    // outputs: same format and size as the input, folder structure kept, nothing else left behind
    const files = await listFiles(outDir)
    expect(files).toEqual(
      [
        '.umbra-batch-state.json',
        'cut1.jpg', // cut-outs take the background's format
        'cut1.shadow.png',
        'cut1.umbra',
        'good1.jpg',
        'good1.shadow.png',
        'good1.umbra',
        'good2.png',
        'good2.shadow.png',
        'good2.umbra',
        'report.csv',
        'report.json',
        'sub/deep.jpg',
        'sub/deep.shadow.png',
        'sub/deep.umbra',
      ].sort(),
    )
    expect((await sharp(join(outDir, 'good1.jpg')).metadata()).format).toBe('jpeg')
    expect((await sharp(join(outDir, 'good2.png')).metadata()).format).toBe('png')
    const g2 = await raw(join(outDir, 'good2.png'))
    const g2in = await raw(join(inDir, 'good2.png'))
    expect([g2.width, g2.height]).toEqual([120, 90])
    // The untrained model darkens a little around the object: the picture changed, only by darkening.
    let darker = 0
    for (let i = 0; i < g2.data.length; i++) {
      expect(g2.data[i]).toBeLessThanOrEqual(g2in.data[i])
      if (g2.data[i] < g2in.data[i]) darker++
    }
    expect(darker).toBeGreaterThan(100)
    const bg = await sharp(background).metadata()
    const cut = await sharp(join(outDir, 'cut1.jpg')).metadata()
    expect([cut.width, cut.height]).toEqual([bg.width, bg.height])
    const layer = await sharp(join(outDir, 'good2.shadow.png')).metadata()
    expect([layer.width, layer.height, layer.channels]).toEqual([120, 90, 4])

    // the project opens with the editor's reader; its shadow layer, applied as the contract's
    // multiply layer (photo * (1 - a + a * c)) at its place, gives the batch's picture back
    const project = decodeProject(await fs.readFile(join(outDir, 'good2.umbra')), 'good2.umbra')
    const layers = project.document.composition.layers
    expect(layers.map((l) => l.kind)).toEqual(['photo', 'shadow', 'object'])
    const shadowLayer = layers[1] as Extract<(typeof layers)[number], { kind: 'shadow' }>
    expect(shadowLayer).toMatchObject({ objectId: 'object', blend: 'multiply' })
    // It carries what the editor's generated shadows carry, so steering the light, stale marking
    // and regenerating work on it: the object's place, the contact point under the object, the model.
    const objectLayer = layers[2] as Extract<(typeof layers)[number], { kind: 'object' }>
    expect(shadowLayer.source).toMatchObject({ objectTransform: objectLayer.transform, generatedTransform: shadowLayer.transform, light: null, model: 'batch-test (untrained)' })
    const src = shadowLayer.source!
    expect(Math.abs(src.contact.x - objectLayer.transform.x)).toBeLessThan(2)
    expect(src.contact.y).toBeGreaterThan(objectLayer.transform.y + 10) // at the disc's bottom, below its centre
    expect(src.castAngle === null || Number.isFinite(src.castAngle)).toBe(true)
    const photoBytes = project.images.get(layers[0].assetId) as Uint8Array
    expect(Buffer.from(photoBytes).equals(await fs.readFile(join(inDir, 'good2.png')))).toBe(true)
    const sh = await sharp(project.images.get(shadowLayer.assetId) as Uint8Array).raw().toBuffer({ resolveWithObject: true })
    const left = Math.round(shadowLayer.transform.x - sh.info.width / 2)
    const top = Math.round(shadowLayer.transform.y - sh.info.height / 2)
    let maxDiff = 0
    for (let y = 0; y < 90; y++) {
      for (let x = 0; x < 120; x++) {
        const inLayer = x >= left && x < left + sh.info.width && y >= top && y < top + sh.info.height
        const li = ((y - top) * sh.info.width + (x - left)) * 4
        const a = inLayer ? sh.data[li + 3] / 255 : 0
        for (let k = 0; k < 3; k++) {
          const c = inLayer ? sh.data[li + k] / 255 : 1
          const expected = g2in.data[(y * 120 + x) * 3 + k] * (1 - a + a * c)
          maxDiff = Math.max(maxDiff, Math.abs(expected - g2.data[(y * 120 + x) * 3 + k]))
        }
      }
    }
    expect(maxDiff).toBeLessThanOrEqual(2.5)
    // and the editor's exporter renders it (photo, shadow, object) at the photo's size
    const rendered = await renderComposition(project.document.composition, (id) => project.images.get(id) as Uint8Array, { format: 'raw' })
    expect([rendered.width, rendered.height]).toEqual([120, 90])
    const cutProject = decodeProject(await fs.readFile(join(outDir, 'cut1.umbra')), 'cut1.umbra')
    expect(cutProject.document.composition.layers.map((l) => l.kind)).toEqual(['photo', 'shadow', 'object'])

    const csv = await fs.readFile(join(outDir, 'report.csv'), 'utf8')
    expect(csv.split('\n')[0]).toBe('input,kind,status,reason,outputs,width,height,read_ms,decode_ms,shadow_ms,encode_ms,write_ms,total_ms')
    expect(csv).toMatch(/^corrupt\.jpg,composite,failed,/m)
    expect(csv.trim().split('\n')).toHaveLength(1 + report.rows.length)

    expect(events.at(-1)).toMatchObject({ type: 'finished' })
    const last = events.filter((e) => e.type === 'progress').at(-1)
    expect(last).toMatchObject({ processed: 6, toProcess: 6, done: 4, failed: 2 })

    // rerun: everything done is skipped, failures are retried; --force redoes the done ones
    const again = await runBatch({ inDir, outDir, background, place: parsePlacement('bottom-centre,height=40%'), recursive: true, layers: true, projects: true, modelDir, workers: 0 })
    expect(again).toMatchObject({ done: 0, failed: 3, processed: 2 })
    const report2 = JSON.parse(await fs.readFile(join(outDir, 'report.json'), 'utf8'))
    expect(report2.rows.find((r: { input: string }) => r.input === 'good1.jpg')).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/already done/) })
    // a removed output is redone
    await fs.rm(join(outDir, 'good1.jpg'))
    const third = await runBatch({ inDir, outDir, background, place: parsePlacement('bottom-centre,height=40%'), recursive: true, layers: true, projects: true, modelDir, workers: 0 })
    expect(third.done).toBe(1)
    const forced = await runBatch({ inDir, outDir, background, place: parsePlacement('bottom-centre,height=40%'), recursive: true, layers: true, projects: true, modelDir, workers: 0, force: true })
    expect(forced.done).toBe(4)
    expect(await hashTree(inDir)).toEqual(before)
  })

  it('runs in worker threads (tsx registered in each worker) with the same results', async () => {
    const dir = join(root, 'workers')
    const inDir = join(dir, 'in')
    for (let i = 0; i < 6; i++) {
      const c = await composite(120, 90, i, i % 2 ? 'png' : 'jpeg')
      await write(join(inDir, `p${i}.${i % 2 ? 'png' : 'jpg'}`), c.photo)
      await write(join(inDir, `p${i}.mask.png`), c.mask)
    }
    const inProcess = await runBatch({ inDir, outDir: join(dir, 'a'), modelDir, workers: 0, format: 'png' })
    const pooled = await runBatch({ inDir, outDir: join(dir, 'b'), modelDir, workers: 2, format: 'png', thumbnailSize: 64 }, { onEvent: () => {} })
    expect(inProcess).toMatchObject({ done: 6, failed: 0 })
    expect(pooled).toMatchObject({ done: 6, failed: 0, workers: 2, runtime: 'onnx' })
    for (let i = 0; i < 6; i++) {
      const a = await raw(join(dir, 'a', `p${i}.png`))
      const b = await raw(join(dir, 'b', `p${i}.png`))
      expect(b.data.equals(a.data)).toBe(true)
    }
  })

  it('pauses and cancels: no new item starts, only whole files remain, and a rerun finishes the rest', async () => {
    const dir = join(root, 'cancel')
    const inDir = join(dir, 'in')
    for (let i = 0; i < 8; i++) {
      const c = await composite(120, 90, i, 'png')
      await write(join(inDir, `c${i}.png`), c.photo)
      await write(join(inDir, `c${i}.mask.png`), c.mask)
    }
    const outDir = join(dir, 'out')
    const controller = new AbortController()
    const pause = new PauseControl()
    const seen: BatchEvent[] = []
    let itemsAtPause = -1
    const summary = await runBatch(
      { inDir, outDir, modelDir, workers: 0, inFlight: 1 },
      {
        signal: controller.signal,
        pause,
        onEvent: (e) => {
          seen.push(e)
          if (e.type === 'item' && !pause.paused && itemsAtPause < 0) {
            pause.pause()
            itemsAtPause = seen.filter((x) => x.type === 'item').length
            // While paused nothing new starts; then cancel.
            setTimeout(() => {
              expect(seen.filter((x) => x.type === 'item').length).toBe(itemsAtPause)
              controller.abort()
            }, 200)
          }
        },
      },
    )
    expect(summary.cancelled).toBe(true)
    expect(summary.done).toBe(1)
    expect(seen.some((e) => e.type === 'paused' && e.paused)).toBe(true)
    const report = JSON.parse(await fs.readFile(join(outDir, 'report.json'), 'utf8'))
    expect(report.rows.filter((r: { reason: string }) => /cancelled/.test(r.reason))).toHaveLength(7)
    const files = await listFiles(outDir)
    expect(files.filter((f) => f.endsWith('.png'))).toHaveLength(1)
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false)
    const rest = await runBatch({ inDir, outDir, modelDir, workers: 0 })
    expect(rest).toMatchObject({ done: 7, skipped: 1, failed: 0 })
  })
})

describe('a worker that dies', () => {
  it('fails only the items it held; a replacement worker finishes the rest', async () => {
    const dir = join(root, 'crash')
    const inDir = join(dir, 'in')
    for (let i = 0; i < 6; i++) {
      const c = await composite(120, 90, i, 'png')
      await write(join(inDir, `k${i}.png`), c.photo)
      await write(join(inDir, `k${i}.mask.png`), c.mask)
    }
    const summary = await runBatch({ inDir, outDir: join(dir, 'out'), modelDir, workers: 1, inFlight: 1, testCrashOn: 'k2.png' })
    expect(summary).toMatchObject({ done: 5, failed: 1 })
    const report = JSON.parse(await fs.readFile(join(dir, 'out', 'report.json'), 'utf8'))
    expect(report.rows.find((r: { input: string }) => r.input === 'k2.png')).toMatchObject({ status: 'failed', reason: expect.stringMatching(/worker.*stopped/) })
  })
})
