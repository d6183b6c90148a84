/**
 * Small inputs for the batch tests: a freshly initialised tiny model (no trained model needed),
 * photo + mask composites, cut-outs with alpha, and the junk a real folder holds.
 */
import { promises as fs } from 'node:fs'
import { dirname, join } from 'node:path'
import { createHash } from 'node:crypto'
import sharp from 'sharp'
import * as tf from '@tensorflow/tfjs'
import { buildShadowModel, TINY_MODEL_CONFIG } from '../../../src/engine/model/architecture'
import { saveModelDir } from '../../../src/engine/model-dir'
import { pngClaiming } from '../../helpers/images'

export async function makeTinyModel(dir: string): Promise<string> {
  await tf.setBackend('cpu')
  const model = buildShadowModel(TINY_MODEL_CONFIG)
  await saveModelDir(dir, model, { name: 'batch-test (untrained)', inputSize: TINY_MODEL_CONFIG.size, architectureVersion: 'test', architecture: { ...TINY_MODEL_CONFIG } })
  model.dispose()
  return dir
}

/** A photo-like RGB image with a darker "object" disc; returns the encoded photo and its mask. */
export async function composite(width: number, height: number, seed: number, format: 'jpeg' | 'png' | 'webp' = 'jpeg'): Promise<{ photo: Buffer; mask: Buffer }> {
  const rgb = Buffer.alloc(width * height * 3)
  const mask = Buffer.alloc(width * height)
  const cx = width * (0.4 + 0.05 * (seed % 3))
  const cy = height * 0.5
  const r = Math.min(width, height) * 0.18
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3
      const inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
      rgb[i] = inside ? 200 : 120 + ((x * 3 + seed * 17) % 100)
      rgb[i + 1] = inside ? 40 : 150 + ((y * 2 + seed) % 80)
      rgb[i + 2] = inside ? 40 : 90 + ((x + y) % 60)
      if (inside) mask[y * width + x] = 255
    }
  }
  const p = sharp(rgb, { raw: { width, height, channels: 3 } })
  const photo = format === 'jpeg' ? await p.jpeg({ quality: 90 }).toBuffer() : format === 'webp' ? await p.webp({ lossless: true }).toBuffer() : await p.png().toBuffer()
  return { photo, mask: await sharp(mask, { raw: { width, height, channels: 1 } }).png().toBuffer() }
}

/** An RGBA cut-out: an opaque box with transparent padding around it. */
export async function cutout(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4
      const inside = x >= width * 0.2 && x < width * 0.8 && y >= height * 0.1 && y < height * 0.9
      data[i] = 30
      data[i + 1] = 90
      data[i + 2] = 200
      data[i + 3] = inside ? 255 : 0
    }
  }
  return sharp(data, { raw: { width, height, channels: 4 } }).png().toBuffer()
}

export async function write(path: string, bytes: Uint8Array | string): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true })
  await fs.writeFile(path, bytes)
}

/**
 * The folder of the "done when": good composites (one in a subfolder), cut-outs, junk
 * files, a corrupt JPEG, a missing mask, a mask without photo and a "huge" image.
 */
export async function makeMixedFolder(root: string): Promise<{ inDir: string; background: string }> {
  const inDir = join(root, 'in')
  const a = await composite(160, 120, 1, 'jpeg')
  await write(join(inDir, 'good1.jpg'), a.photo)
  await write(join(inDir, 'good1.mask.png'), a.mask)
  const b = await composite(120, 90, 2, 'png')
  await write(join(inDir, 'good2.png'), b.photo)
  await write(join(inDir, 'good2.mask.png'), b.mask)
  const c = await composite(100, 100, 3, 'jpeg')
  await write(join(inDir, 'sub', 'deep.jpg'), c.photo)
  await write(join(inDir, 'sub', 'deep.mask.png'), c.mask)
  await write(join(inDir, 'cut1.png'), await cutout(40, 60))
  // junk
  await write(join(inDir, '.DS_Store'), 'Bud1 junk')
  await write(join(inDir, 'Thumbs.db'), 'junk')
  await write(join(inDir, 'desktop.ini'), '[.ShellClassInfo]')
  await write(join(inDir, '._good1.jpg'), 'AppleDouble')
  await write(join(inDir, 'notes.txt'), 'not an image')
  // a corrupt JPEG (truncated in its data) with a valid mask
  const bad = await composite(160, 120, 4, 'jpeg')
  await write(join(inDir, 'corrupt.jpg'), bad.photo.subarray(0, Math.floor(bad.photo.length / 2)))
  await write(join(inDir, 'corrupt.mask.png'), bad.mask)
  // a photo without its mask, a mask without its photo
  await write(join(inDir, 'nomask.jpg'), (await composite(80, 60, 5)).photo)
  await write(join(inDir, 'orphan.mask.png'), a.mask)
  // a decompression bomb: its header claims 30000 x 30000
  await write(join(inDir, 'huge.png'), await pngClaiming(30000, 30000))
  await write(join(inDir, 'huge.mask.png'), a.mask)
  const background = join(root, 'background.jpg')
  await write(background, (await composite(200, 150, 6, 'jpeg')).photo)
  return { inDir, background }
}

/** sha256 of every file under a folder, by relative path (to prove inputs are never modified). */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const visit = async (d: string, prefix: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) await visit(p, `${prefix}${e.name}/`)
      else out[`${prefix}${e.name}`] = createHash('sha256').update(await fs.readFile(p)).digest('hex')
    }
  }
  await visit(dir, '')
  return out
}

export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const visit = async (d: string, prefix: string) => {
    for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await visit(join(d, e.name), `${prefix}${e.name}/`)
      else out.push(`${prefix}${e.name}`)
    }
  }
  await visit(dir, '')
  return out.sort()
}
