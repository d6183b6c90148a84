import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import sharp from 'sharp'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createThreadEngineHost, type EngineHost } from '../../../src/jobs/engine/host'
import { writeGeometricShadowModel } from '../../helpers/geometric-shadow-model'
import type { UserError } from '../../../src/core/errors'

/** The engine worker over worker_threads: protocol, queue, cancel, crash recovery, given attention. */
let dir: string
let host: EngineHost
let photo: Buffer
let cutout: Buffer
const transform = { x: 100, y: 60, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false }

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-host-'))
  await tf.setBackend('cpu')
  await writeGeometricShadowModel(join(dir, 'model'), 32)
  host = createThreadEngineHost({ modelDir: join(dir, 'model'), threads: 1 })
  photo = await sharp({ create: { width: 200, height: 160, channels: 3, background: '#b0b0b0' } }).png().toBuffer()
  // a 30x50 opaque block with a transparent margin
  const data = Buffer.alloc(40 * 60 * 4)
  for (let y = 5; y < 55; y++) for (let x = 5; x < 35; x++) data.set([200, 60, 40, 255], (y * 40 + x) * 4)
  cutout = await sharp(data, { raw: { width: 40, height: 60, channels: 4 } }).png().toBuffer()
})
afterAll(async () => {
  await host?.close()
  rmSync(dir, { recursive: true, force: true })
})

const request = () => ({ photo: { id: 'p', bytes: photo }, object: { image: { id: 'o', bytes: cutout }, transform } })

describe('engine host (worker thread)', () => {
  it('loads once and reports runtime and backend; generate returns a shadow below the object', async () => {
    const info = await host.call('load', {})
    expect(info.runtime).toBe('onnx')
    expect(info.backend).toBe('onnxruntime-cpu')
    const stages: string[] = []
    const r = await host.call('generate', request(), { onProgress: (p) => stages.push(p.stage) })
    expect(stages).toContain('infer')
    expect(r.empty).toBe(false)
    expect(r.contact.y).toBeCloseTo(85, 0) // bottom of the opaque block: 60 - 30 + 55
    expect(r.castAngle).not.toBeNull()
    expect(r.lightOrigin).toBeNull() // this model chooses the direction itself (no cast frame)
    expect(Math.abs(r.castAngle! - 90)).toBeLessThan(30) // the geometric model casts downwards
    expect(r.rect.y + r.rect.height).toBeGreaterThan(r.contact.y + 5)
    expect(host.status.state).toBe('ready')
  })

  it('queues requests and cancels a queued one', async () => {
    const abort = new AbortController()
    const first = host.call('generate', request())
    const second = host.call('generate', request(), { signal: abort.signal }).catch((e: unknown) => e)
    abort.abort()
    await expect(first).resolves.toBeTruthy()
    expect(await second).toMatchObject({ code: 'CANCELLED' })
  })

  it('corrected attention maps change the shadow', async () => {
    const plain = await host.call('generate', request())
    // Paint "occluder shadow" over the top-left of the attention window.
    const { width, height } = await sharp(Buffer.from(plain.attentionPng)).metadata()
    const rgb = Buffer.alloc(width! * height! * 3)
    for (let y = 0; y < height! / 3; y++) for (let x = 0; x < width! / 3; x++) rgb[(y * width! + x) * 3 + 1] = 255
    const png = await sharp(rgb, { raw: { width: width!, height: height!, channels: 3 } }).png().toBuffer()
    const corrected = await host.call('generate', { ...request(), attention: { png, rect: plain.attentionRect } })
    expect(corrected.rect.x).toBeLessThan(plain.rect.x) // the shadow now also covers the painted corner
    expect(corrected.rect.y).toBeLessThan(plain.rect.y)
  })

  it('a crash fails the requests in flight with a clear error, and the next request restarts the worker', async () => {
    // The crash request runs first; the generate request waits in the worker's queue when it dies.
    const crash = host.call('crash', {}).catch((e: unknown) => e)
    const inflight = host.call('generate', request()).catch((e: unknown) => e)
    expect(await crash).toMatchObject({ code: 'ENGINE_CRASHED' })
    const err = (await inflight) as UserError
    expect(['ENGINE_CRASHED']).toContain(err.code)
    expect(err.message).toMatch(/stopped unexpectedly/)
    expect(host.status.state).toBe('crashed')
    const r = await host.call('generate', request())
    expect(r.empty).toBe(false)
    expect(host.status.state).toBe('ready')
  })
})
