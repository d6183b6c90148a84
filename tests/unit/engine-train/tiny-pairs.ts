import { join } from 'node:path'
import { promises as fs } from 'node:fs'
import { writeImage, type RawImage } from '../../../src/core/image'

/**
 * Writes tiny pairs in the pair format for tests (no dependency on the renderer): a textured
 * ground, a disc "object" with an offset darkened ellipse as its shadow, and (optionally) an
 * occluder disc with its own shadow cast in the same direction.
 */
export interface TinyPairOptions {
  size?: number
  withOccluder?: boolean
  /** Shadow darkening factor (shadow = noshadow * factor). */
  factor?: number
  seed?: number
}

function rng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function writeTinyPair(dir: string, opts: TinyPairOptions = {}): Promise<void> {
  const size = opts.size ?? 48
  const rand = rng(opts.seed ?? 1)
  const factor = opts.factor ?? 0.5
  const n = size * size
  const base = new Uint8Array(n * 3)
  const tint = [150 + rand() * 80, 130 + rand() * 80, 110 + rand() * 80]
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) base[i * 3 + c] = Math.max(0, Math.min(255, Math.round(tint[c] + (rand() - 0.5) * 20)))
  const disc = (cx: number, cy: number, r: number) => (x: number, y: number) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r
  const ellipse = (cx: number, cy: number, rx: number, ry: number) => (x: number, y: number) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
  const dx = (rand() - 0.5) * size * 0.25
  const dy = size * (0.08 + rand() * 0.08)
  const ox = size * (0.3 + rand() * 0.2), oy = size * (0.35 + rand() * 0.15), r = size * 0.1
  const object = disc(ox, oy, r)
  const objShadow = ellipse(ox + dx, oy + dy + r, r * 1.3, r * 0.7)
  const occ = opts.withOccluder ? disc(size * 0.78, size * 0.25, size * 0.07) : () => false
  const occShadow = opts.withOccluder ? ellipse(size * 0.78 + dx * 0.7, size * 0.25 + dy * 0.7 + size * 0.07, size * 0.09, size * 0.05) : () => false
  const mask = (f: (x: number, y: number) => boolean, exclude?: (x: number, y: number) => boolean): RawImage => {
    const data = new Uint8Array(n)
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) data[y * size + x] = f(x, y) && !(exclude && exclude(x, y)) ? 255 : 0
    return { width: size, height: size, channels: 1, data }
  }
  const noShadow = new Uint8Array(base)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3
      if (occShadow(x, y) && !occ(x, y)) for (let c = 0; c < 3; c++) noShadow[i + c] = Math.round(noShadow[i + c] * factor)
      if (occ(x, y)) noShadow.set([60, 90, 160], i)
      if (object(x, y)) noShadow.set([200, 60, 50], i)
    }
  }
  const shadow = new Uint8Array(noShadow)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (objShadow(x, y) && !object(x, y) && !occ(x, y)) {
        const i = (y * size + x) * 3
        for (let c = 0; c < 3; c++) shadow[i + c] = Math.round(noShadow[i + c] * factor)
      }
    }
  }
  await fs.mkdir(dir, { recursive: true })
  const rgb = (data: Uint8Array): RawImage => ({ width: size, height: size, channels: 3, data })
  await writeImage(join(dir, 'noshadow.png'), rgb(noShadow))
  await writeImage(join(dir, 'shadow.png'), rgb(shadow))
  await writeImage(join(dir, 'object.png'), mask(object))
  await writeImage(join(dir, 'object-shadow.png'), mask(objShadow, object))
  await writeImage(join(dir, 'occluders.png'), mask(occ))
  await writeImage(join(dir, 'occluder-shadows.png'), mask(occShadow, occ))
  await fs.writeFile(join(dir, 'meta.json'), JSON.stringify({ seed: opts.seed ?? 1 }))
}

export async function writeTinyPairSet(root: string, count: number, opts: TinyPairOptions = {}): Promise<void> {
  for (let i = 0; i < count; i++) {
    await writeTinyPair(join(root, `s${String(i).padStart(4, '0')}`), { ...opts, seed: (opts.seed ?? 1) + i, withOccluder: opts.withOccluder ?? i % 2 === 0 })
  }
}
