import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, promises as fs, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildShadowModel, TINY_MODEL_CONFIG } from '../../../src/engine/model/architecture'
import { addMapsGraph, MAPS_ONNX_FILE, MANIFEST_FILE, readModelManifest, saveModelDir, verifyModelDir } from '../../../src/engine/model-dir'
import { createShadowEngine } from '../../../src/engine/inference'
import { maxAbsDiff, testInput } from './test-models'

/**
 * maps.onnx: a cast-frame model's graph without its darkening output, for the pipeline's first
 * pass and the direction's views. It must give exactly the full graph's maps and direction.
 */
let dir: string
const config = { ...TINY_MODEL_CONFIG, castFrame: 'down' as const, directionHead: true, directionBins: 8 }
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-maps-graph-'))
  await tf.setBackend('cpu')
  const model = buildShadowModel(config)
  // The direction output starts at zero weights: give it something to carry.
  const layer = model.getLayer('direction_bins')
  layer.setWeights(layer.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.3, 'float32', 5)))
  await saveModelDir(join(dir, 'cast'), model, { name: 'cast', inputSize: config.size, architectureVersion: 'test', architecture: { ...config } })
  await saveModelDir(join(dir, 'image-frame'), model, { name: 'image frame', inputSize: config.size, architectureVersion: 'test', architecture: { ...config, castFrame: undefined } })
  model.dispose()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('maps.onnx', () => {
  it('is written for cast-frame models only, and is smaller than model.onnx', async () => {
    const cast = await verifyModelDir(join(dir, 'cast'))
    expect(cast.files[MAPS_ONNX_FILE].bytes).toBeGreaterThan(0)
    expect(cast.files[MAPS_ONNX_FILE].bytes).toBeLessThan(cast.files['model.onnx'].bytes)
    expect((await verifyModelDir(join(dir, 'image-frame'))).files[MAPS_ONNX_FILE]).toBeUndefined()
  })

  it('gives the full graph maps and direction when no darkening is asked for, and the full outputs otherwise', async () => {
    const engine = await createShadowEngine({ modelDir: join(dir, 'cast'), runtime: 'onnx', threads: 1 })
    const input = testInput(config.size, 3, 4)
    const full = await engine.infer(input, 3)
    const maps = await engine.infer(input, 3, { darkening: false })
    expect(maps.darkening).toHaveLength(0)
    expect(full.darkening.length).toBe(3 * config.size * config.size * 3)
    expect(maxAbsDiff(maps.attention, full.attention)).toBeLessThan(1e-6)
    expect(maxAbsDiff(maps.direction!, full.direction!)).toBeLessThan(1e-6)
    expect(Math.max(...full.direction!.map(Math.abs))).toBeGreaterThan(0.01)
    await engine.dispose()
  })

  it('is added to a folder written before it existed, once, with the same weights; a damaged one is refused', async () => {
    const old = join(dir, 'old')
    await fs.cp(join(dir, 'cast'), old, { recursive: true })
    // The folder as the twenty-third session wrote it: no maps.onnx in the manifest or on disk.
    const { [MAPS_ONNX_FILE]: _maps, ...files } = (await readModelManifest(old)).files
    await fs.writeFile(join(old, MANIFEST_FILE), JSON.stringify({ ...(await readModelManifest(old)), files }, null, 2))
    await fs.rm(join(old, MAPS_ONNX_FILE))
    const withoutMaps = await createShadowEngine({ modelDir: old, runtime: 'onnx', threads: 1 })
    const input = testInput(config.size, 1, 9)
    const fallback = await withoutMaps.infer(input, 1, { darkening: false }) // runs model.onnx
    expect(fallback.darkening.length).toBe(config.size * config.size * 3)
    await withoutMaps.dispose()

    expect(await addMapsGraph(old)).toBe(true)
    expect(await addMapsGraph(old)).toBe(false)
    const manifest = await verifyModelDir(old)
    const original = await readModelManifest(join(dir, 'cast'))
    expect(manifest.files['weights.bin']).toEqual(original.files['weights.bin'])
    expect(manifest.files[MAPS_ONNX_FILE]).toEqual(original.files[MAPS_ONNX_FILE])
    expect(await addMapsGraph(join(dir, 'image-frame'))).toBe(false)

    const bytes = await fs.readFile(join(old, MAPS_ONNX_FILE))
    bytes[bytes.length >> 1] ^= 0xff
    await fs.writeFile(join(old, MAPS_ONNX_FILE), bytes)
    await expect(createShadowEngine({ modelDir: old, runtime: 'onnx', threads: 1 })).rejects.toThrow(/maps\.onnx is damaged/)
  })

  it('one that does not fit (here the whole graph, darkening included) is left out and said, and the whole graph runs', async () => {
    const misfit = join(dir, 'misfit')
    await fs.cp(join(dir, 'cast'), misfit, { recursive: true })
    const full = await fs.readFile(join(misfit, 'model.onnx'))
    await fs.writeFile(join(misfit, MAPS_ONNX_FILE), full)
    const manifest = await readModelManifest(misfit)
    await fs.writeFile(join(misfit, MANIFEST_FILE), JSON.stringify({ ...manifest, files: { ...manifest.files, [MAPS_ONNX_FILE]: manifest.files['model.onnx'] } }, null, 2))
    const engine = await createShadowEngine({ modelDir: misfit, runtime: 'onnx', threads: 1 })
    expect(engine.detail).toMatch(/maps\.onnx not used/)
    const out = await engine.infer(testInput(config.size, 1, 2), 1, { darkening: false })
    expect(out.darkening.length).toBe(config.size * config.size * 3)
    await engine.dispose()
  })
})
