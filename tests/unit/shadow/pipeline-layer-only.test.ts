import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createShadowEngine, type ShadowEngine } from '../../../src/engine/inference'
import { generateShadow } from '../../../src/engine/pipeline'
import type { RawImage } from '../../../src/core/image'
import { writeGeometricShadowModel } from '../../helpers/geometric-shadow-model'

/** The editor's use of the pipeline: only the (screen-sized) layer, the photo left untouched. */
let dir: string
let engine: ShadowEngine
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-layer-only-'))
  await tf.setBackend('cpu')
  await writeGeometricShadowModel(join(dir, 'm'), 32)
  engine = await createShadowEngine({ modelDir: join(dir, 'm'), runtime: 'onnx', threads: 1 })
})
afterAll(async () => {
  await engine?.dispose()
  rmSync(dir, { recursive: true, force: true })
})

describe('generateShadow with applyToImage: false', () => {
  it('returns the layer and leaves the image bytes as they were', async () => {
    const width = 300
    const height = 200
    const image: RawImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(180) }
    const mask: RawImage = { width, height, channels: 1, data: new Uint8Array(width * height) }
    for (let y = 60; y < 120; y++) for (let x = 130; x < 160; x++) mask.data[y * width + x] = 255
    const before = new Uint8Array(image.data)
    const r = await generateShadow(engine, { image, mask }, { inPlace: true, layer: true, layerMaxSide: 64, applyToImage: false })
    expect(Buffer.compare(Buffer.from(image.data), Buffer.from(before))).toBe(0)
    expect(r.layer).not.toBeNull()
    expect(Math.max(r.layer!.image.width, r.layer!.image.height)).toBeLessThanOrEqual(64)
    let alpha = 0
    for (let i = 3; i < r.layer!.image.data.length; i += 4) alpha += r.layer!.image.data[i]
    expect(alpha).toBeGreaterThan(0)
    // and the default still applies it
    const applied = await generateShadow(engine, { image, mask }, { layer: false })
    expect(Buffer.compare(Buffer.from(applied.composite.data), Buffer.from(before))).not.toBe(0)
  })
})
