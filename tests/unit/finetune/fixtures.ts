import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { writeImage, type RawImage } from '../../../src/core/image'
import { ARCHITECTURE_VERSION, buildShadowModel, TINY_MODEL_CONFIG } from '../../../src/engine/model/architecture'
import { saveModelDir } from '../../../src/engine/model-dir'
import type { ShapePrior } from '../../../src/engine/shape-prior'

/**
 * Tiny procedural pairs: a textured ground, a box-shaped object, and its shadow cast to one side
 * (a parallelogram darkened by a per-channel factor). Deterministic from the seed.
 */
export interface TinyPair {
  noShadow: RawImage
  shadow: RawImage
  object: RawImage
  objectShadow: RawImage
}

function rand(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function makeTinyPair(seed: number, size = 48, tint: [number, number, number] = [0.45, 0.45, 0.5]): TinyPair {
  const r = rand(seed)
  const base = [90 + r() * 120, 90 + r() * 120, 90 + r() * 120]
  const ow = Math.round(size * (0.15 + r() * 0.1))
  const oh = Math.round(size * (0.2 + r() * 0.15))
  const ox = Math.round(size * 0.3 + r() * size * 0.2)
  const oy = Math.round(size * 0.25 + r() * size * 0.15)
  const len = Math.round(size * 0.2 + r() * size * 0.1)
  const n = size * size
  const noShadow = new Uint8Array(n * 3)
  const shadow = new Uint8Array(n * 3)
  const object = new Uint8Array(n)
  const objectShadow = new Uint8Array(n)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x
      const inObj = x >= ox && x < ox + ow && y >= oy && y < oy + oh
      // shadow: a parallelogram from the object's base towards the lower right
      const dy = y - (oy + oh)
      const inShadow = !inObj && dy >= -2 && dy < len * 0.6 && x >= ox + dy && x < ox + ow + dy + len * 0.4
      const tex = ((x * 7 + y * 13 + seed) % 11) - 5
      for (let c = 0; c < 3; c++) {
        const v = inObj ? 30 + 40 * c : Math.max(0, Math.min(255, base[c] + tex * 2))
        noShadow[i * 3 + c] = v
        shadow[i * 3 + c] = inShadow ? Math.round(v * tint[c]) : v
      }
      object[i] = inObj ? 255 : 0
      objectShadow[i] = inShadow ? 255 : 0
    }
  }
  const rgb = (data: Uint8Array): RawImage => ({ width: size, height: size, channels: 3, data })
  const grey = (data: Uint8Array): RawImage => ({ width: size, height: size, channels: 1, data })
  return { noShadow: rgb(noShadow), shadow: rgb(shadow), object: grey(object), objectShadow: grey(objectShadow) }
}

/** Writes pairs in the pair format (folder per sample); `withObjectShadow` false leaves that mask out. */
export async function writePairFolder(dir: string, count: number, opts: { size?: number; withObjectShadow?: boolean; seed0?: number; tint?: [number, number, number] } = {}): Promise<void> {
  for (let k = 0; k < count; k++) {
    const p = makeTinyPair((opts.seed0 ?? 100) + k, opts.size ?? 48, opts.tint)
    const d = join(dir, `p${String(k).padStart(3, '0')}`)
    await fs.mkdir(d, { recursive: true })
    await writeImage(join(d, 'noshadow.png'), p.noShadow)
    await writeImage(join(d, 'shadow.png'), p.shadow)
    await writeImage(join(d, 'object.png'), p.object)
    if (opts.withObjectShadow !== false) await writeImage(join(d, 'object-shadow.png'), p.objectShadow)
  }
}

/** A fresh tiny model folder (32 px) to fine-tune from. */
export async function writeTinyModel(dir: string, name = 'tiny-base', extra: { castFrame?: boolean; shapePrior?: ShapePrior; shapePriorInLoss?: boolean } = {}): Promise<void> {
  const config = extra.castFrame ? { ...TINY_MODEL_CONFIG, castFrame: 'down' as const } : TINY_MODEL_CONFIG
  const model = buildShadowModel(config)
  await saveModelDir(dir, model, {
    name,
    inputSize: config.size,
    architectureVersion: ARCHITECTURE_VERSION,
    architecture: { ...config },
    ...(extra.shapePrior ? { shapePrior: extra.shapePrior } : {}),
    ...(extra.shapePriorInLoss ? { training: { dataCount: 1, steps: 1, wallTimeSeconds: 1, backend: 'wasm', shapePriorInLoss: true } } : {}),
  })
  model.dispose()
}

export async function setCpuBackend(): Promise<void> {
  await tf.setBackend('cpu')
  await tf.ready()
}
