import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { runSynthJob } from '../../../src/jobs/synth-job'
import { UserError } from '../../../src/core/errors'
import { PAIR_FILES } from '../../../src/shared/pair-format'
import { loadTextureFolder } from '../../../src/synth/textures'
import synthCommand from '../../../src/cli/commands/synth'

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'umbra-synth-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

const ALL_FILES = Object.values(PAIR_FILES).sort()

async function listSamples(out: string): Promise<string[]> {
  return (await fs.readdir(out)).sort()
}

async function expectComplete(out: string): Promise<void> {
  for (const name of await listSamples(out)) {
    expect(name).toMatch(/^\d{8}$/)
    expect((await fs.readdir(join(out, name))).sort()).toEqual(ALL_FILES)
  }
}

async function expectUserError(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UserError)
  expect((err as UserError).code).toBe(code)
  if (text) expect((err as UserError).message).toMatch(text)
}

describe('umbra synth job', () => {
  it('writes complete pair folders named by seed, and resumes by skipping finished ones', async () => {
    const out = join(dir, 'pairs')
    const first = await runSynthJob({ out, count: 3, size: 48, seed: 500, workers: 0 })
    expect(first).toMatchObject({ rendered: 3, skipped: 0, cancelled: false })
    expect(await listSamples(out)).toEqual(['00000500', '00000501', '00000502'])
    await expectComplete(out)
    // Masks are 8-bit single-channel PNGs holding only 0 and 255; images are RGB.
    for (const f of [PAIR_FILES.object, PAIR_FILES.objectShadow, PAIR_FILES.occluders, PAIR_FILES.occluderShadows]) {
      expect((await sharp(join(out, '00000501', f)).metadata()).channels, f).toBe(1)
      const { data } = await sharp(join(out, '00000501', f)).raw().toBuffer({ resolveWithObject: true })
      expect(data.every((v) => v === 0 || v === 255), f).toBe(true)
    }
    expect((await sharp(join(out, '00000501', PAIR_FILES.shadow)).metadata()).channels).toBe(3)
    const meta = JSON.parse(await fs.readFile(join(out, '00000501', 'meta.json'), 'utf8'))
    expect(meta.seed).toBe(501)
    expect(meta.generator).toMatch(/^umbra-synth-/)
    const stamp = (await fs.stat(join(out, '00000500', 'shadow.png'))).mtimeMs
    // An interrupted run leaves only a temp folder behind: it is cleaned, never taken for a sample.
    const stale = join(out, '.00000504.999.deadbeef.tmp')
    await fs.mkdir(stale)
    await fs.writeFile(join(stale, 'noshadow.png'), 'half')
    const second = await runSynthJob({ out, count: 5, size: 48, seed: 500, workers: 0 })
    expect(second).toMatchObject({ rendered: 2, skipped: 3 })
    expect(await listSamples(out)).toEqual(['00000500', '00000501', '00000502', '00000503', '00000504'])
    expect((await fs.stat(join(out, '00000500', 'shadow.png'))).mtimeMs).toBe(stamp)
    await expectComplete(out)
  })

  it('renders byte-identical files for the same seeds, in process and on a worker thread', async () => {
    const a = join(dir, 'a')
    const b = join(dir, 'b')
    await runSynthJob({ out: a, count: 2, size: 48, seed: 77, workers: 0 })
    const onWorker = await runSynthJob({ out: b, count: 2, size: 48, seed: 77, workers: 1 })
    expect(onWorker.rendered).toBe(2)
    for (const id of ['00000077', '00000078']) {
      for (const f of ALL_FILES) {
        const x = await fs.readFile(join(a, id, f))
        const y = await fs.readFile(join(b, id, f))
        expect(x.equals(y), `${id}/${f}`).toBe(true)
      }
    }
  })

  it('stops cleanly when cancelled, leaving only complete samples', async () => {
    const out = join(dir, 'c')
    const controller = new AbortController()
    const result = await runSynthJob({
      out,
      count: 20,
      size: 40,
      workers: 0,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.rendered >= 2) controller.abort()
      },
    })
    expect(result.cancelled).toBe(true)
    expect(result.rendered).toBe(2)
    await expectComplete(out)
    expect(await listSamples(out)).toHaveLength(2)
  })

  it('refuses bad arguments with clear errors', async () => {
    const out = join(dir, 'x')
    await expectUserError(runSynthJob({ out, count: -1, workers: 0 }), 'BAD_ARGS', /count/)
    await expectUserError(runSynthJob({ out, count: 0, workers: 0 }), 'BAD_ARGS', /count/)
    await expectUserError(runSynthJob({ out, count: 2, size: 8, workers: 0 }), 'BAD_ARGS', /size/)
    await expectUserError(runSynthJob({ out, count: 2, seed: -5, workers: 0 }), 'BAD_ARGS', /seed/)
    await expectUserError(runSynthJob({ out, count: 2, workers: -1 }), 'BAD_ARGS', /workers/)
    const file = join(dir, 'file.txt')
    await fs.writeFile(file, 'x')
    await expectUserError(runSynthJob({ out: file, count: 1, size: 40, workers: 0 }), 'OUT_NOT_A_FOLDER')
    // The command line turns a negative count into the same kind of error.
    await expect(synthCommand.run(['--out', out, '--count', '-3'])).rejects.toThrow(/--count must be a whole number/)
    await expect(synthCommand.run(['--count', '3'])).rejects.toThrow(/--out is required/)
  })

  it('refuses a texture folder that is missing, a file, empty or holds no readable image', async () => {
    const out = join(dir, 'y')
    await expectUserError(runSynthJob({ out, count: 1, textures: join(dir, 'nope'), workers: 0 }), 'TEXTURES_NOT_FOUND')
    const file = join(dir, 'photo.jpg')
    await fs.writeFile(file, 'not really')
    await expectUserError(runSynthJob({ out, count: 1, textures: file, workers: 0 }), 'TEXTURES_NOT_A_FOLDER')
    const empty = join(dir, 'empty')
    await fs.mkdir(empty)
    await expectUserError(runSynthJob({ out, count: 1, textures: empty, workers: 0 }), 'NO_TEXTURES', /no \.jpg/)
    const broken = join(dir, 'broken')
    await fs.mkdir(broken)
    await fs.writeFile(join(broken, 'a.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0, 1, 2]))
    await expectUserError(runSynthJob({ out, count: 1, textures: broken, workers: 0 }), 'NO_TEXTURES', /could be decoded/)
    // Nothing was written for a refused run.
    await expect(fs.stat(out)).rejects.toThrow()
  })

  it('loads photos recursively in a stable order, skipping unreadable ones', async () => {
    const tex = join(dir, 'tex')
    await fs.mkdir(join(tex, 'ground'), { recursive: true })
    const img = (r: number) => sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g: 100, b: 50 } } }).png().toBuffer()
    await fs.writeFile(join(tex, 'ground', 'b.png'), await img(10))
    await fs.writeFile(join(tex, 'a.png'), await img(200))
    await fs.writeFile(join(tex, 'c.jpg'), 'garbage')
    const set = await loadTextureFolder(tex)
    const photos = set.textures.filter((t) => t.photo)
    expect(photos.map((t) => t.name)).toEqual(['a.png', join('ground', 'b.png')])
    // Procedural patterns stay in the mix after the photos.
    expect(set.textures.slice(2).every((t) => !t.photo)).toBe(true)
    expect(set.skipped).toEqual([join(tex, 'c.jpg')])
    expect(photos[0].levels[0]).toMatchObject({ width: 64, height: 48 })
  })

  it('reports a full disk clearly and leaves no half-written sample', async () => {
    const out = join(dir, 'full')
    let calls = 0
    const failingWriter = async (target: string) => {
      calls++
      if (calls === 2) {
        // What the file system says when the disk fills up mid-sample: a temp folder may exist, the sample does not.
        await fs.mkdir(join(out, `.${target.split('/').pop()}.1.abcdef12.tmp`), { recursive: true })
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }
      await fs.mkdir(target, { recursive: true })
      for (const f of ALL_FILES) await fs.writeFile(join(target, f), 'x')
    }
    await expectUserError(runSynthJob({ out, count: 4, size: 40, workers: 0, writer: failingWriter }), 'NO_SPACE', /no space left on the device holding .*rerun the same command to resume/)
    expect(await listSamples(out)).toEqual(['.00000001.1.abcdef12.tmp', '00000000'])
    // The rerun cleans the temp folder and finishes the job.
    const rerun = await runSynthJob({ out, count: 2, size: 40, workers: 0 })
    expect(rerun).toMatchObject({ skipped: 1, rendered: 1 })
    expect(await listSamples(out)).toEqual(['00000000', '00000001'])
  })
})
