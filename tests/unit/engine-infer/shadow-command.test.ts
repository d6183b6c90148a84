import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs, existsSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import sharp from 'sharp'
import * as tf from '@tensorflow/tfjs'
import { saveModelDir } from '../../../src/engine/model-dir'
import shadowCommand from '../../../src/cli/commands/shadow'
import { UserError } from '../../../src/core/errors'
import { decodeRgb } from '../../../src/core/image'
import { buildTestShadowModel } from './test-models'

let root: string
let modelDir: string
let photo: string
let mask: string

async function expectUserError(argv: string[], code: string, message?: RegExp) {
  const err = await shadowCommand.run(argv).then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(UserError)
  expect((err as UserError).code).toBe(code)
  if (message) expect((err as UserError).message).toMatch(message)
}

describe('umbra shadow', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu')
    root = await fs.mkdtemp(join(tmpdir(), 'umbra-shadow-cmd-'))
    modelDir = join(root, 'model')
    const model = buildTestShadowModel(32, 5, 5)
    await saveModelDir(modelDir, model, { name: 'cmd-test', inputSize: 32, architectureVersion: 'test', architecture: {} })
    model.dispose()
    photo = join(root, 'photo.jpg')
    mask = join(root, 'mask.png')
    const w = 120
    const h = 90
    const rgb = Buffer.alloc(w * h * 3)
    for (let i = 0; i < w * h; i++) rgb.set([(i * 7) % 256, 120, 200 - (i % 90)], i * 3)
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).jpeg().toFile(photo)
    const m = Buffer.alloc(w * h)
    for (let y = 30; y < 70; y++) for (let x = 50; x < 70; x++) m[y * w + x] = 255
    await sharp(m, { raw: { width: w, height: h, channels: 1 } }).png().toFile(mask)
  })
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true })
  })

  it('writes the composite, the layer and the attention maps', async () => {
    const out = join(root, 'out.png')
    const layer = join(root, 'layer.png')
    const att = join(root, 'att')
    expect(await shadowCommand.run(['--image', photo, '--mask', mask, '--out', out, '--layer', layer, '--attention', att, '--model', modelDir, '--runtime', 'onnx'])).toBe(0)
    const composite = await decodeRgb(out)
    expect([composite.width, composite.height]).toEqual([120, 90])
    const layerMeta = await sharp(layer).metadata()
    expect(layerMeta.channels).toBe(4)
    expect((await sharp(join(att, 'occluders.png')).metadata()).width).toBe(120)
    expect(existsSync(join(att, 'occluder-shadows.png'))).toBe(true)
  })

  it('composites a cut-out given with --object --at', async () => {
    const cut = join(root, 'cut.png')
    const c = Buffer.alloc(20 * 30 * 4)
    for (let i = 0; i < 600; i++) c.set([250, 10, 10, 255], i * 4)
    await sharp(c, { raw: { width: 20, height: 30, channels: 4 } }).png().toFile(cut)
    const out = join(root, 'placed.png')
    expect(await shadowCommand.run(['--image', photo, '--object', cut, '--at', '40,20,1.5', '--out', out, '--model', modelDir])).toBe(0)
    const img = await decodeRgb(out)
    const p = (30 * 120 + 50) * 3
    expect(Array.from(img.data.subarray(p, p + 3))).toEqual([250, 10, 10]) // the object keeps its pixels
  })

  it('fails clearly on bad input and leaves no output file', async () => {
    const out = join(root, 'never.png')
    const notImage = join(root, 'notes.png')
    await fs.writeFile(notImage, 'this is not a picture')
    const empty = join(root, 'empty.png')
    await sharp(Buffer.alloc(120 * 90), { raw: { width: 120, height: 90, channels: 1 } }).png().toFile(empty)
    const full = join(root, 'full.png')
    await sharp(Buffer.alloc(120 * 90, 255), { raw: { width: 120, height: 90, channels: 1 } }).png().toFile(full)
    const small = join(root, 'small.png')
    await sharp(Buffer.alloc(60 * 45, 255), { raw: { width: 60, height: 45, channels: 1 } }).png().toFile(small)
    const corrupt = join(root, 'corrupt-model')
    await fs.cp(modelDir, corrupt, { recursive: true })
    await fs.appendFile(join(corrupt, 'model.onnx'), 'x')

    await expectUserError(['--image', photo, '--mask', empty, '--out', out, '--model', modelDir], 'MASK_EMPTY')
    await expectUserError(['--image', photo, '--mask', full, '--out', out, '--model', modelDir], 'MASK_FULL')
    await expectUserError(['--image', photo, '--mask', small, '--out', out, '--model', modelDir], 'MASK_SIZE', /60x45.*120x90/)
    await expectUserError(['--image', notImage, '--mask', mask, '--out', out, '--model', modelDir], 'NOT_AN_IMAGE')
    await expectUserError(['--image', photo, '--mask', mask, '--out', out, '--model', join(root, 'nope')], 'MODEL_NOT_FOUND')
    await expectUserError(['--image', photo, '--mask', mask, '--out', out, '--model', corrupt], 'MODEL_CORRUPT', /model\.onnx is damaged/)
    await expectUserError(['--image', photo, '--mask', mask, '--out', join(root, 'out.gif'), '--model', modelDir], 'UNSUPPORTED_FORMAT')
    await expectUserError(['--image', photo, '--out', out], 'BAD_ARGS', /--mask or --object/)
    await expectUserError(['--image', photo, '--object', mask, '--at', '1', '--out', out], 'BAD_ARGS', /X,Y/)
    expect(existsSync(out)).toBe(false)
    expect((await fs.readdir(root)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('does not load tfjs, nor the protobuf library of the ONNX exporter, when onnxruntime runs (cold start stays short)', async () => {
    const out = join(root, 'child.png')
    const script = `
      import { register } from 'tsx/esm/api'
      register()
      const { default: cmd } = await import(${JSON.stringify(new URL('../../../src/cli/commands/shadow.ts', import.meta.url).pathname)})
      const code = await cmd.run(${JSON.stringify(['--image', photo, '--mask', mask, '--out', out, '--model', modelDir, '--verbose'])})
      const { createRequire } = await import('node:module')
      const loaded = Object.keys(createRequire(import.meta.url).cache)
      console.log('TFJS_LOADED=' + (globalThis._tfengine !== undefined) + ' CODE=' + code)
      console.log('PROTOBUF_LOADED=' + loaded.some((f) => /[\\/](onnx-proto|protobufjs)[\\/]/.test(f)) + ' CJS_MODULES=' + loaded.length)
    `
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd() })
    expect(stdout).toMatch(/runtime: onnx/)
    expect(stdout).toMatch(/TFJS_LOADED=false CODE=0/)
    expect(stdout).toMatch(/PROTOBUF_LOADED=false CJS_MODULES=[1-9]/)
  })
})
