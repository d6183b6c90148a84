import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { MemoryBackend, SettingsService } from '../../../src/core/settings'
import { createNodeContext } from '../../../src/app/node-host'
import { createHandlers } from '../../../src/app/handlers'
import { createDispatcher } from '../../../src/app/dispatch'
import type { FinetuneJobState } from '../../../src/shared/finetune'
import type { AppContext } from '../../../src/app/context'
import { writePairFolder, writeTinyModel } from './fixtures'

let root: string
let ctx: AppContext
let dispatch: ReturnType<typeof createDispatcher>
const states: FinetuneJobState[] = []

async function call<T>(method: string, req: unknown): Promise<T> {
  const r = await dispatch(method, req)
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`)
  return r.result as T
}

async function until(pred: (s: FinetuneJobState) => boolean, ms = 60_000): Promise<FinetuneJobState> {
  const end = Date.now() + ms
  for (;;) {
    const s = states.at(-1)
    if (s && pred(s)) return s
    if (Date.now() > end) throw new Error(`timed out; last state ${JSON.stringify(s && { state: s.state, step: s.step, error: s.error })}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-ft-app-'))
  process.env.UMBRA_MODELS_DIR = join(root, 'models')
  await writeTinyModel(join(root, 'models', 'tiny'))
  await writePairFolder(join(root, 'pairs'), 6, { size: 40, withObjectShadow: false })
  ctx = createNodeContext({ settings: new SettingsService(new MemoryBackend()), samplesDir: root })
  ctx.emit = (name, payload) => {
    if (name === 'finetune.state') states.push(payload as FinetuneJobState)
  }
  dispatch = createDispatcher(createHandlers(ctx))
})
afterAll(async () => {
  delete process.env.UMBRA_MODELS_DIR
  await ctx.engine?.close()
  await fs.rm(root, { recursive: true, force: true })
})

describe('fine-tune handlers (worker thread) and model manager', () => {
  it('checks, trains off the main loop, pauses, resumes, saves a named model and makes it active', async () => {
    const list0 = await call<{ models: { name: string }[]; active: string }>('models.use', { name: 'tiny' })
    expect(list0.active).toBe('tiny')
    const report = await call<{ accepted: unknown[]; derivedObjectShadow: number }>('finetune.check', { pairsDir: join(root, 'pairs') })
    expect(report.accepted).toHaveLength(6)
    expect(report.derivedObjectShadow).toBe(6)

    const started = await call<FinetuneJobState>('finetune.start', { pairsDir: join(root, 'pairs'), name: 'studio', steps: 400, batch: 2, lr: 1e-3, validateEvery: 2 })
    expect(started.modelName).toBe('studio')
    // The main loop stays free while it trains: timers keep firing between steps.
    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    const running = await until((s) => s.state === 'running' && s.val.length >= 1 && s.train.length >= 2)
    clearInterval(timer)
    expect(ticks).toBeGreaterThan(5)
    expect(running.before).not.toBeNull()
    await call('finetune.control', { jobId: running.jobId, action: 'pause' })
    const paused = await until((s) => s.state === 'paused')
    expect(paused.step).toBeGreaterThanOrEqual(2)
    const preview = await call<{ bytes: Uint8Array | null }>('finetune.preview', { jobId: paused.jobId })
    expect(preview.bytes?.length).toBeGreaterThan(100)
    const status = await call<{ resumable: { name: string; step: number }[] }>('finetune.status', {})
    expect(status.resumable.map((r) => r.name)).toEqual(['studio'])

    // save from the paused state: the best state so far becomes the model 'studio'
    await call('finetune.resume', { name: 'studio', save: true })
    const saved = await until((s) => s.state === 'finished' || s.state === 'failed')
    expect(saved.error).toBeNull()
    expect(saved.after).not.toBeNull()
    expect((await call<{ resumable: unknown[] }>('finetune.status', {})).resumable).toEqual([])
    const list = await call<{ models: { name: string; baseModel: string | null }[] }>('models.list', {})
    expect(list.models.map((m) => m.name)).toEqual(['default', 'studio', 'tiny'])
    expect(list.models.find((m) => m.name === 'studio')?.baseModel).toBe('tiny-base')
    const used = await call<{ active: string }>('models.use', { name: 'studio' })
    expect(used.active).toBe('studio')
    expect(ctx.settings.get().panels.models).toEqual({ active: 'studio' })
    // the engine starts on the active model
    const engine = await call<{ state: string; modelName?: string }>('engine.status', { load: true })
    expect(engine.state).toBe('ready')
    expect(engine.modelName).toBe('studio')
  }, 120_000)

  it('refuses a missing pair folder and a taken name with clear errors', async () => {
    await expect(call('finetune.check', { pairsDir: join(root, 'nowhere') })).rejects.toThrow(/does not exist/)
    await expect(call('finetune.start', { pairsDir: join(root, 'pairs'), name: 'studio' })).rejects.toThrow(/already exists/)
    await expect(call('finetune.start', { pairsDir: join(root, 'pairs'), name: 'default' })).rejects.toThrow(/PROTECTED/)
  })
})
