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

  it('leaves the image as it was when the layer is full size too, and that layer multiplies to the composite', async () => {
    const width = 120
    const height = 90
    const image: RawImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3) }
    for (let i = 0; i < image.data.length; i++) image.data[i] = 60 + ((i * 37) % 180)
    const mask: RawImage = { width, height, channels: 1, data: new Uint8Array(width * height) }
    for (let y = 30; y < 60; y++) for (let x = 50; x < 64; x++) mask.data[y * width + x] = 255
    const before = new Uint8Array(image.data)
    const r = await generateShadow(engine, { image, mask }, { inPlace: true, layer: true, applyToImage: false, castAngle: Math.PI / 2 })
    expect(Buffer.compare(Buffer.from(image.data), Buffer.from(before))).toBe(0)
    const layer = r.layer!
    expect(layer.image.width).toBe(r.window.width)
    const applied = await generateShadow(engine, { image, mask }, { layer: false, castAngle: Math.PI / 2 })
    // The composite is the photo multiplied by the layer (colour mixed with white by its alpha), to rounding.
    let worst = 0
    let darkened = 0
    for (let y = 0; y < layer.image.height; y++) {
      for (let x = 0; x < layer.image.width; x++) {
        const li = (y * layer.image.width + x) * 4
        const a = layer.image.data[li + 3] / 255
        const p = ((y + layer.y) * width + x + layer.x) * 3
        for (let k = 0; k < 3; k++) {
          const factor = 1 - a + (a * layer.image.data[li + k]) / 255
          worst = Math.max(worst, Math.abs(before[p + k] * factor - applied.composite.data[p + k]))
          if (applied.composite.data[p + k] < before[p + k]) darkened++
        }
      }
    }
    expect(darkened).toBeGreaterThan(0)
    expect(worst).toBeLessThanOrEqual(1.5)
  })
})
