import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { MemoryBackend, SettingsService } from '../../../src/core/settings'
import { ModelStore, DEFAULT_MODEL_NAME } from '../../../src/engine/model-store'
import { readModelManifest } from '../../../src/engine/model-dir'
import { writeTinyModel } from './fixtures'

let root: string
let defaultDir: string
let source: string
let store: ModelStore
let settings: SettingsService

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-models-'))
  defaultDir = join(root, 'resources', 'default')
  source = join(root, 'source-model')
  await writeTinyModel(defaultDir, 'shipped')
  await writeTinyModel(source, 'Studio Look #1')
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})
beforeEach(async () => {
  await fs.rm(join(root, 'models'), { recursive: true, force: true })
  settings = new SettingsService(new MemoryBackend())
  store = new ModelStore(settings, { modelsDir: join(root, 'models'), defaultDir })
})

async function listing(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).sort()
}

describe('model store', () => {
  it('lists the default, imports, uses (kept in settings), renames, exports and deletes', async () => {
    expect((await store.list()).map((e) => [e.name, e.builtin, e.active])).toEqual([[DEFAULT_MODEL_NAME, true, true]])
    const imported = await store.import(source)
    expect(imported.name).toBe('Studio-Look-1')
    expect(imported.manifest?.name).toBe('Studio Look #1')
    await store.use('Studio-Look-1')
    expect((settings.get().panels.models as { active: string }).active).toBe('Studio-Look-1')
    expect((await store.activeDir()).dir).toBe(join(root, 'models', 'Studio-Look-1'))

    await store.rename('Studio-Look-1', 'studio')
    expect(store.activeName()).toBe('studio')
    expect((await readModelManifest(join(root, 'models', 'studio'))).name).toBe('studio')
    const exported = await store.export('studio', join(root, 'exported'))
    expect((await readModelManifest(exported)).name).toBe('studio')
    await expect(store.export('studio', join(root, 'exported'))).rejects.toThrow(/already exists/)

    await store.delete('studio')
    expect(store.activeName()).toBe(DEFAULT_MODEL_NAME)
    expect(await listing(join(root, 'models'))).toEqual([])
  })

  it('refuses a broken import whole: damaged or missing file, bad manifest', async () => {
    const broken = join(root, 'broken')
    await fs.rm(broken, { recursive: true, force: true })
    await fs.cp(source, broken, { recursive: true })
    const weights = join(broken, 'weights.bin')
    const data = await fs.readFile(weights)
    data[10] ^= 0xff
    await fs.writeFile(weights, data)
    await expect(store.import(broken, 'broken')).rejects.toMatchObject({ code: 'MODEL_CORRUPT' })
    await fs.rm(join(broken, 'model.onnx'))
    await fs.writeFile(weights, (await fs.readFile(join(source, 'weights.bin'))))
    await expect(store.import(broken, 'broken')).rejects.toThrow(/model\.onnx is missing/)
    await fs.writeFile(join(broken, 'manifest.json'), '{"name": 1}')
    await expect(store.import(broken, 'broken')).rejects.toThrow(/not a valid model manifest/)
    await expect(store.import(join(root, 'nowhere'), 'x')).rejects.toThrow(/no model folder/)
    // nothing left behind: no model, no temp folder
    expect(await listing(join(root, 'models'))).toEqual([])
    expect((await store.list()).map((e) => e.name)).toEqual([DEFAULT_MODEL_NAME])
  })

  it('protects the default model', async () => {
    await expect(store.delete(DEFAULT_MODEL_NAME)).rejects.toMatchObject({ code: 'PROTECTED' })
    await expect(store.rename(DEFAULT_MODEL_NAME, 'other')).rejects.toMatchObject({ code: 'PROTECTED' })
    await expect(store.import(source, 'default')).rejects.toMatchObject({ code: 'PROTECTED' })
    await expect(store.import(source, 'Default')).rejects.toMatchObject({ code: 'PROTECTED' })
    await store.import(source, 'mine')
    await expect(store.rename('mine', 'default')).rejects.toMatchObject({ code: 'PROTECTED' })
    await expect(store.import(source, 'mine')).rejects.toMatchObject({ code: 'MODEL_EXISTS' })
    await expect(store.import(source, '../escape')).rejects.toMatchObject({ code: 'BAD_NAME' })
    expect((await readModelManifest(defaultDir)).name).toBe('shipped')
    // a chosen model that disappears falls back to the default
    await store.use('mine')
    await fs.rm(join(root, 'models', 'mine'), { recursive: true })
    expect(await store.activeDir()).toEqual({ name: DEFAULT_MODEL_NAME, dir: defaultDir, fellBack: true })
  })
})
