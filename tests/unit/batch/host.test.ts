import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import sharp from 'sharp'
import { BatchJobHost } from '../../../src/jobs/batch/host'
import { batchOptionsFrom } from '../../../src/app/batch-handlers'
import { BatchSettings, type BatchJobState, type BatchRow } from '../../../src/shared/batch'
import { UserError } from '../../../src/core/errors'
import { composite, makeTinyModel, write } from './fixtures'

/** The app's batch host: the job in its own worker thread, pause/resume/cancel, thumbnails. */
let root: string
let modelDir: string

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-batch-host-'))
  modelDir = await makeTinyModel(join(root, 'model'))
  for (let i = 0; i < 10; i++) {
    const c = await composite(800, 600, i, 'jpeg')
    await write(join(root, 'in', `p${i}.jpg`), c.photo)
    await write(join(root, 'in', `p${i}.mask.png`), c.mask)
  }
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve()
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`))
      else setTimeout(tick, 10)
    }
    tick()
  })
}

describe('BatchJobHost', () => {
  it('runs a job off the main thread, pauses, resumes, cancels, and keeps thumbnails', async () => {
    const states: BatchJobState[] = []
    const rows: BatchRow[] = []
    const host = new BatchJobHost('test', { onState: (s) => states.push(s), onItem: (_id, r) => rows.push(r) })
    const settings = BatchSettings.parse({ inDir: join(root, 'in'), outDir: join(root, 'out'), modelDir })
    const options = { ...(await batchOptionsFrom(settings)), workers: 0, inFlight: 1 }
    const started = host.start(settings, options)
    expect(started.state).toBe('starting')
    expect(() => host.start(settings, options)).toThrow(UserError)

    const processed = () => rows.filter((r) => r.index !== undefined).length
    await until(() => processed() >= 1, 'the first result')
    host.control(started.jobId, 'pause')
    await until(() => states.at(-1)?.state === 'paused', 'paused')
    const atPause = processed()
    await new Promise((r) => setTimeout(r, 500))
    // At most the item already in flight finishes while paused.
    expect(processed()).toBeLessThanOrEqual(atPause + 1)
    const whilePaused = processed()
    host.control(started.jobId, 'resume')
    await until(() => processed() > whilePaused, 'progress after resume')
    host.control(started.jobId, 'cancel')
    await until(() => ['cancelled', 'finished'].includes(states.at(-1)?.state ?? ''), 'the end')

    const last = host.status()!
    expect(last.state).toBe('cancelled')
    expect(last.progress.done).toBeGreaterThanOrEqual(2)
    expect(last.progress.done).toBeLessThan(10)
    expect(last.reportJson).toBe(join(root, 'out', 'report.json'))
    const done = rows.find((r) => r.status === 'done' && r.hasThumbnail)!
    const thumb = host.thumbnail(started.jobId, done.index!)
    expect(thumb).not.toBeNull()
    const meta = await sharp(thumb!).metadata()
    expect(meta.format).toBe('jpeg')
    expect(Math.max(meta.width!, meta.height!)).toBe(96)
    expect(host.thumbnail('another', done.index!)).toBeNull()
    expect(() => host.control('another', 'pause')).toThrow(UserError)
    await host.close()

    // a new job resumes where the cancelled one stopped
    const host2 = new BatchJobHost('test', { onState: (s) => states.push(s), onItem: () => {} })
    const again = host2.start(settings, options)
    await until(() => host2.status()?.state === 'finished', 'the rerun')
    const p = host2.status()!.progress
    expect(p.done + (p.skipped)).toBe(10)
    expect(p.done).toBe(10 - last.progress.done)
    expect(again.jobId).not.toBe(started.jobId)
    await host2.close()
  })

  it('reports a job that cannot start (no model) as failed with the reason', async () => {
    const states: BatchJobState[] = []
    const host = new BatchJobHost('test', { onState: (s) => states.push(s), onItem: () => {} })
    const settings = BatchSettings.parse({ inDir: join(root, 'in'), outDir: join(root, 'out-nomodel'), modelDir: join(root, 'no-model'), force: true })
    host.start(settings, await batchOptionsFrom(settings))
    await until(() => host.status()?.state === 'failed', 'the failure')
    expect(host.status()!.error!.message).toMatch(/no-model/)
    await host.close()
  })

  it('checks the panel settings before starting', async () => {
    const code = async (s: Partial<BatchSettings>) => batchOptionsFrom(BatchSettings.parse(s)).then(() => null, (e: UserError) => e.code)
    expect(await code({ inDir: '', outDir: '/tmp/x' })).toBe('BAD_ARGS')
    expect(await code({ inDir: join(root, 'missing'), outDir: '/tmp/x' })).toBe('NOT_FOUND')
    expect(await code({ inDir: join(root, 'in'), outDir: '/tmp/x', mode: 'cutouts' })).toBe('BAD_ARGS')
    expect(await code({ inDir: join(root, 'in'), outDir: '/tmp/x', mode: 'cutouts', background: 'bg.jpg', place: 'sideways' })).toBe('BAD_PLACE')
    const ok = await batchOptionsFrom(BatchSettings.parse({ inDir: join(root, 'in'), outDir: '/tmp/x', format: 'same', mode: 'cutouts', background: 'bg.jpg' }))
    expect(ok).toMatchObject({ format: undefined, background: 'bg.jpg', place: { type: 'anchor', anchor: 'bottom-centre' } })
  })
})
