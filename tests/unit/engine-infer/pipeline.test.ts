import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { saveModelDir } from '../../../src/engine/model-dir'
import { createShadowEngine, type ShadowEngine } from '../../../src/engine/inference'
import { generateShadow, contextWindow, maskBoundingBox, placeCutout, renderAttentionMaps } from '../../../src/engine/pipeline'
import type { RawImage } from '../../../src/core/image'
import { UserError } from '../../../src/core/errors'
import { buildTestShadowModel } from './test-models'

let root: string
let engine: ShadowEngine

function photo(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3
      data[i] = 40 + ((x * 7) % 200)
      data[i + 1] = 60 + ((y * 5) % 180)
      data[i + 2] = 200 - ((x + y) % 150)
    }
  }
  return { width, height, channels: 3, data }
}

function discMask(width: number, height: number, cx: number, cy: number, r: number): RawImage {
  const data = new Uint8Array(width * height)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) data[y * width + x] = 1 + ((x + y) % 254)
  return { width, height, channels: 1, data }
}

async function expectUserError(p: Promise<unknown>, code: string) {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(UserError)
  expect((err as UserError).code).toBe(code)
}

describe('generateShadow (photo resolution)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
    root = await fs.mkdtemp(join(tmpdir(), 'umbra-pipeline-'))
    const model = buildTestShadowModel(32, 5, 3)
    await saveModelDir(join(root, 'model'), model, { name: 'pipeline-test', inputSize: 32, architectureVersion: 'test', architecture: {} })
    model.dispose()
    engine = await createShadowEngine({ modelDir: join(root, 'model'), runtime: 'onnx', threads: 1 })
  })
  afterAll(async () => {
    await engine?.dispose()
    await fs.rm(root, { recursive: true, force: true })
  })

  it('darkens only inside the context window, never the object, and the layer reproduces the composite', async () => {
    const image = photo(300, 200)
    const original = new Uint8Array(image.data)
    const mask = discMask(300, 200, 120, 90, 20)
    const result = await generateShadow(engine, { image, mask })
    expect(image.data).toEqual(original) // input untouched (not in place)
    expect(result.objectBox).toEqual({ x: 100, y: 70, width: 41, height: 41 })
    const win = result.window
    // 8 x 41 px is more than the photo's short side: a 200 px square, centred on the object horizontally.
    expect(win).toEqual({ x: 21, y: 0, width: 200, height: 200 })
    const out = result.composite.data
    let changed = 0
    let wrongOutside = 0
    let brighter = 0
    for (let y = 0; y < 200; y++) {
      for (let x = 0; x < 300; x++) {
        const p = y * 300 + x
        const inside = x >= win.x && x < win.x + win.width && y >= win.y && y < win.y + win.height
        for (let k = 0; k < 3; k++) {
          const a = original[p * 3 + k]
          const b = out[p * 3 + k]
          if ((!inside || mask.data[p] !== 0) && b !== a) wrongOutside++
          if (b > a) brighter++
          if (b !== a) changed++
        }
      }
    }
    expect(wrongOutside).toBe(0) // byte-identical outside the window and on the object
    expect(brighter).toBe(0)
    expect(changed).toBeGreaterThan(1000) // the random test model darkens plenty

    const layer = result.layer!
    expect([layer.x, layer.y, layer.width, layer.height]).toEqual([win.x, win.y, win.width, win.height])
    let worst = 0
    for (let y = 0; y < layer.height; y++) {
      for (let x = 0; x < layer.width; x++) {
        const li = (y * layer.width + x) * 4
        const a = layer.image.data[li + 3] / 255
        const p = (y + layer.y) * 300 + (x + layer.x)
        for (let k = 0; k < 3; k++) {
          const c = layer.image.data[li + k] / 255
          const applied = original[p * 3 + k] * (1 - a + a * c)
          worst = Math.max(worst, Math.abs(applied - out[p * 3 + k]))
        }
      }
    }
    expect(worst).toBeLessThanOrEqual(1.5)

    // A screen-sized layer covers the same placement and agrees with the full one where sampled.
    const small = (await generateShadow(engine, { image: photo(300, 200), mask }, { layerMaxSide: 50 })).layer!
    expect([small.x, small.y, small.width, small.height]).toEqual([layer.x, layer.y, layer.width, layer.height])
    expect([small.image.width, small.image.height]).toEqual([50, 50])
    let alphaGap = 0
    for (let y = 0; y < 50; y++) {
      for (let x = 0; x < 50; x++) {
        const fx = Math.floor(((x + 0.5) * layer.width) / 50)
        const fy = Math.floor(((y + 0.5) * layer.height) / 50)
        alphaGap = Math.max(alphaGap, Math.abs(small.image.data[(y * 50 + x) * 4 + 3] - layer.image.data[(fy * layer.width + fx) * 4 + 3]))
      }
    }
    expect(alphaGap).toBeLessThanOrEqual(3) // the same shadow sampled at the same points (rounding aside)
    expect(result.attention.occluders.length).toBe(32 * 32)
    const maps = await renderAttentionMaps(result.attention, 300, 200)
    expect(maps.occluders.data.length).toBe(300 * 200)
    expect(maps.occluderShadows.data[0]).toBe(0) // outside the window
  })

  it('renders the attention maps where they are, one grey value per photo pixel', async () => {
    // An 8x8 map, letterboxed to its rows 2-5, covering a 160x80 window at (20, 10) of a 200x100 photo;
    // the occluder map is lit in its right half only, the shadow map in its bottom-left cell only.
    const size = 8
    const occluders = new Float32Array(size * size)
    const occluderShadows = new Float32Array(size * size)
    for (let y = 2; y < 6; y++) for (let x = 4; x < 8; x++) occluders[y * size + x] = 1
    occluderShadows[5 * size] = 1
    const maps = await renderAttentionMaps({ size, window: { x: 20, y: 10, width: 160, height: 80 }, content: { x: 0, y: 2, width: 8, height: 4 }, occluders, occluderShadows }, 200, 100)
    const at = (img: { data: Uint8Array }, x: number, y: number) => img.data[y * 200 + x]
    expect(maps.occluders.channels).toBe(1)
    for (const y of [12, 30, 50, 70, 88]) {
      expect(at(maps.occluders, 150, y)).toBeGreaterThan(240) // right half of the window, every row
      expect(at(maps.occluders, 40, y)).toBeLessThan(15) // left half
      expect(at(maps.occluders, 190, y)).toBe(0) // outside the window
    }
    expect(at(maps.occluderShadows, 25, 85)).toBeGreaterThan(200) // the bottom-left cell (20 x 20 px)
    expect(at(maps.occluderShadows, 25, 15)).toBeLessThan(15)
    expect(at(maps.occluderShadows, 150, 85)).toBeLessThan(15)
  })

  it('works with an object on the border (clamped window, warning) and with in-place output', async () => {
    const image = photo(160, 90)
    const mask = discMask(160, 90, 110, 60, 40) // 81 px tall in a 90 px photo, touching the bottom
    const result = await generateShadow(engine, { image, mask }, { inPlace: true, layer: false })
    expect(result.composite.data).toBe(image.data)
    expect(result.layer).toBeNull()
    expect(result.window.height).toBe(90)
    expect(result.warnings.join(' ')).toMatch(/border/)
    expect(result.warnings.join(' ')).toMatch(/little room/)
  })

  it('keeps the alpha of an RGBA photo and stops when aborted', async () => {
    const rgb = photo(64, 48)
    const data = new Uint8Array(64 * 48 * 4)
    for (let i = 0; i < 64 * 48; i++) data.set([rgb.data[i * 3], rgb.data[i * 3 + 1], rgb.data[i * 3 + 2], (i * 3) % 256], i * 4)
    const image: RawImage = { width: 64, height: 48, channels: 4, data }
    const mask = discMask(64, 48, 30, 20, 6)
    const result = await generateShadow(engine, { image, mask })
    let alphaChanged = 0
    let rgbChanged = 0
    for (let i = 0; i < 64 * 48; i++) {
      if (result.composite.data[i * 4 + 3] !== data[i * 4 + 3]) alphaChanged++
      if (result.composite.data[i * 4] !== data[i * 4]) rgbChanged++
    }
    expect(alphaChanged).toBe(0)
    expect(rgbChanged).toBeGreaterThan(0)
    const controller = new AbortController()
    controller.abort(new Error('cancelled by the user'))
    await expect(generateShadow(engine, { image, mask }, { signal: controller.signal })).rejects.toThrow(/cancelled by the user/)
  })

  it('refuses empty, full and wrong-sized masks with clear errors', async () => {
    const image = photo(64, 48)
    await expectUserError(generateShadow(engine, { image, mask: { width: 64, height: 48, channels: 1, data: new Uint8Array(64 * 48) } }), 'MASK_EMPTY')
    await expectUserError(generateShadow(engine, { image, mask: { width: 64, height: 48, channels: 1, data: new Uint8Array(64 * 48).fill(255) } }), 'MASK_FULL')
    await expectUserError(generateShadow(engine, { image, mask: discMask(65, 48, 10, 10, 3) }), 'MASK_SIZE')
  })

  it('places a cut-out by its alpha and derives the mask', async () => {
    const bg = photo(100, 80)
    const cut: RawImage = { width: 10, height: 10, channels: 4, data: new Uint8Array(400) }
    for (let i = 0; i < 100; i++) cut.data.set([255, 0, 0, i < 50 ? 255 : 100], i * 4)
    const { image, mask } = await placeCutout(bg, cut, { x: 95, y: 20 })
    expect(maskBoundingBox(mask)).toEqual({ x: 95, y: 20, width: 5, height: 5 }) // clipped at the right edge; faint half is not object
    const scaled = maskBoundingBox((await placeCutout(bg, cut, { x: 10, y: 20, scale: 2 })).mask)!
    expect(scaled.width).toBe(20)
    expect(Math.abs(scaled.height - 10)).toBeLessThanOrEqual(1) // resampling blurs the alpha step by a pixel
    expect(Array.from(image.data.subarray((20 * 100 + 95) * 3, (20 * 100 + 95) * 3 + 3))).toEqual([255, 0, 0])
    await expectUserError(placeCutout(bg, cut, { x: 200, y: 0 }), 'CUTOUT_OUTSIDE')
  })

  it('letterboxes a window wider than the photo is tall', async () => {
    const image = photo(200, 40)
    const mask = discMask(200, 40, 100, 20, 5)
    for (let y = 15; y < 25; y++) for (let x = 10; x < 190; x++) mask.data[y * 200 + x] = 255 // a long flat object
    const result = await generateShadow(engine, { image, mask })
    expect(result.window).toEqual({ x: 10, y: 0, width: 180, height: 40 })
    expect(result.attention.content).toEqual({ x: 0, y: 12, width: 32, height: 7 })
  })

  it('puts the shadow where the model puts it (crop, resize and upsample line up)', async () => {
    // A model whose darkening is "where the photo is red": 1x1 convs, so any misalignment shows.
    const input = tf.input({ shape: [32, 32, 4], name: 'input' })
    const redDetector = (name: string, filters: number) =>
      tf.layers.conv2d({
        filters,
        kernelSize: 1,
        activation: 'sigmoid',
        name,
        weights: [tf.tensor4d(Array.from({ length: 4 * filters }, (_, i) => (Math.floor(i / filters) === 0 ? 40 : 0)), [1, 1, 4, filters]), tf.fill([filters], -20)],
      }).apply(input) as tf.SymbolicTensor
    const model = tf.model({ inputs: input, outputs: [redDetector('attention', 2), redDetector('darkening', 3)] })
    const dir = join(root, 'red-model')
    await saveModelDir(dir, model, { name: 'red', inputSize: 32, architectureVersion: 'test', architecture: {} })
    model.dispose()
    const red = await createShadowEngine({ modelDir: dir, runtime: 'onnx', threads: 1 })
    const W = 320
    const H = 320
    const image: RawImage = { width: W, height: H, channels: 3, data: new Uint8Array(W * H * 3) }
    for (let i = 0; i < W * H; i++) image.data.set([0, 200, 200], i * 3)
    for (let y = 200; y < 280; y++) for (let x = 40; x < 120; x++) image.data[(y * W + x) * 3] = 255 // the red patch
    const mask = discMask(W, H, 220, 100, 30)
    const result = await generateShadow(red, { image, mask })
    await red.dispose()
    const at = (x: number, y: number) => result.composite.data[(y * W + x) * 3 + 1]
    expect(at(80, 240)).toBeLessThan(10) // inside the patch: fully dark
    expect(at(45, 205)).toBeLessThan(60) // near its corner, still dark
    expect(at(30, 240)).toBe(200) // a few pixels left of it: untouched
    expect(at(80, 290)).toBe(200) // below it
    expect(at(80, 190)).toBe(200) // above it
  })

  it('feeds the model the window as RGB in [0,1] plus a mask where any nonzero value is object', async () => {
    let seen: Float32Array | null = null
    const recorder: ShadowEngine = {
      ...engine,
      infer: async (batch, n) => {
        seen = batch.slice()
        return { attention: new Float32Array(n * 32 * 32 * 2), darkening: new Float32Array(n * 32 * 32 * 3) }
      },
    }
    const image: RawImage = { width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3).fill(51) }
    const mask: RawImage = { width: 64, height: 64, channels: 1, data: new Uint8Array(64 * 64) }
    for (let y = 16; y < 48; y++) for (let x = 16; x < 48; x++) mask.data[y * 64 + x] = 1 // faint but nonzero
    const result = await generateShadow(recorder, { image, mask })
    expect(result.window).toEqual({ x: 0, y: 0, width: 64, height: 64 })
    const input = seen as unknown as Float32Array
    expect(input[(16 * 32 + 16) * 4 + 3]).toBeCloseTo(1, 5) // centre of the object
    expect(input[(2 * 32 + 2) * 4 + 3]).toBe(0)
    expect(input[(16 * 32 + 16) * 4]).toBeCloseTo(0.2, 5) // 51 / 255
    expect(result.composite.data).toEqual(image.data) // zero darkening: every byte kept
  })

  it('keeps the context window inside the photo and around the object', () => {
    for (const [bx, by, bw, bh, W, H] of [[0, 0, 10, 10, 50, 50], [40, 40, 10, 10, 50, 50], [0, 0, 100, 20, 100, 30], [5, 3, 90, 24, 100, 30]]) {
      const w = contextWindow({ x: bx, y: by, width: bw, height: bh }, W, H)
      expect(w.x).toBeGreaterThanOrEqual(0)
      expect(w.y).toBeGreaterThanOrEqual(0)
      expect(w.x + w.width).toBeLessThanOrEqual(W)
      expect(w.y + w.height).toBeLessThanOrEqual(H)
      expect(w.x).toBeLessThanOrEqual(bx)
      expect(w.y).toBeLessThanOrEqual(by)
      expect(w.x + w.width).toBeGreaterThanOrEqual(bx + bw)
      expect(w.y + w.height).toBeGreaterThanOrEqual(by + bh)
    }
  })
})
