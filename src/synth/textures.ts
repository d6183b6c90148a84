import { promises as fs } from 'node:fs'
import { join, relative, extname } from 'node:path'
import sharp from 'sharp'
import { UserError } from '../core/errors'
import { Rng } from './random'

/** One mip level: 8-bit sRGB, 3 channels, row-major. */
export interface TextureLevel {
  width: number
  height: number
  data: Uint8Array
}

/** A photo (or procedural pattern) with its mip pyramid, level 0 first. */
export interface Texture {
  name: string
  /** True for photographs loaded from --textures, false for procedural patterns. */
  photo: boolean
  levels: TextureLevel[]
}

export interface TextureSet {
  /** Where the photos came from (null: procedural only). */
  source: string | null
  textures: Texture[]
  /** Files that could not be decoded and were left out. */
  skipped: string[]
}

/** sRGB 8-bit -> linear light, so that texture filtering and lighting happen in linear space. */
export const SRGB_TO_LINEAR = new Float32Array(256)
for (let i = 0; i < 256; i++) {
  const c = i / 255
  SRGB_TO_LINEAR[i] = c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp'])
/** Photos are downscaled to this on load: crops of them cover a 256 px frame well, and memory stays small. */
export const TEXTURE_MAX_SIDE = 512
/** More photos than this add little variety but cost memory in every worker. */
export const MAX_TEXTURES = 300

/** Allocates on a SharedArrayBuffer so worker threads can share one copy of the textures. */
function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n))
}

/** Builds the mip pyramid by 2x2 box filtering in linear light. */
export function buildMips(width: number, height: number, data: Uint8Array): TextureLevel[] {
  const levels: TextureLevel[] = [{ width, height, data }]
  let cur = levels[0]
  while (cur.width > 4 && cur.height > 4) {
    const w = cur.width >> 1
    const h = cur.height >> 1
    const out = sharedBytes(w * h * 3)
    const src = cur.data
    const sw = cur.width
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i0 = ((2 * y) * sw + 2 * x) * 3
        const i1 = i0 + sw * 3
        for (let c = 0; c < 3; c++) {
          const lin = (SRGB_TO_LINEAR[src[i0 + c]] + SRGB_TO_LINEAR[src[i0 + 3 + c]] + SRGB_TO_LINEAR[src[i1 + c]] + SRGB_TO_LINEAR[src[i1 + 3 + c]]) * 0.25
          out[(y * w + x) * 3 + c] = linearToSrgbByte(lin)
        }
      }
    }
    cur = { width: w, height: h, data: out }
    levels.push(cur)
  }
  return levels
}

/** Nearest 8-bit sRGB code of a linear value (binary search over the decode table: no pow). */
export function linearToSrgbByte(v: number): number {
  if (v <= 0) return 0
  if (v >= 1) return 255
  let lo = 0
  let hi = 255
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (SRGB_TO_LINEAR[mid] <= v) lo = mid
    else hi = mid
  }
  return v - SRGB_TO_LINEAR[lo] < SRGB_TO_LINEAR[hi] - v ? lo : hi
}

async function walkImages(dir: string): Promise<string[]> {
  const found: string[] = []
  const visit = async (d: string): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true })
    for (const e of entries) {
      if (e.name.startsWith('.')) continue
      const p = join(d, e.name)
      if (e.isDirectory()) await visit(p)
      else if (e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) found.push(p)
    }
  }
  await visit(dir)
  // Sorted by path relative to the folder: the same folder gives the same texture indices anywhere.
  return found.sort((a, b) => (relative(dir, a) < relative(dir, b) ? -1 : relative(dir, a) > relative(dir, b) ? 1 : 0))
}

/** Loads every JPEG/PNG/WebP under `dir` (recursively), downscaled, as photo textures. */
export async function loadTextureFolder(dir: string): Promise<TextureSet> {
  let stat
  try {
    stat = await fs.stat(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UserError('TEXTURES_NOT_FOUND', `texture folder ${dir} does not exist (see README, "Synthetic data", for scripts/fetch-textures.sh)`)
    throw new UserError('TEXTURES_UNREADABLE', `cannot read texture folder ${dir}: ${(err as Error).message}`)
  }
  if (!stat.isDirectory()) throw new UserError('TEXTURES_NOT_A_FOLDER', `--textures ${dir} is a file; give a folder of photos`)
  let files: string[]
  try {
    files = await walkImages(dir)
  } catch (err) {
    throw new UserError('TEXTURES_UNREADABLE', `cannot read texture folder ${dir}: ${(err as Error).message}`)
  }
  if (files.length === 0) throw new UserError('NO_TEXTURES', `texture folder ${dir} holds no .jpg, .png or .webp images`)
  const textures: Texture[] = []
  const skipped: string[] = []
  for (const file of files) {
    if (textures.length >= MAX_TEXTURES) {
      skipped.push(file)
      continue
    }
    try {
      const { data, info } = await sharp(file, { limitInputPixels: 100_000_000, failOn: 'error' })
        .rotate()
        .resize(TEXTURE_MAX_SIDE, TEXTURE_MAX_SIDE, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true })
      if (info.width < 32 || info.height < 32 || info.channels !== 3) {
        skipped.push(file)
        continue
      }
      const level0 = sharedBytes(data.length)
      level0.set(data)
      textures.push({ name: relative(dir, file), photo: true, levels: buildMips(info.width, info.height, level0) })
    } catch {
      skipped.push(file)
    }
  }
  if (textures.length === 0) throw new UserError('NO_TEXTURES', `none of the ${files.length} images in ${dir} could be decoded`)
  // Plain procedural surfaces (asphalt, concrete, paint) stay in the mix: they are common in real scenes.
  return { source: dir, textures: [...textures, ...proceduralTextures()], skipped }
}

// ---------------------------------------------------------------- procedural textures

function valueNoise(rng: Rng, size: number, cells: number): Float32Array {
  const grid = new Float32Array((cells + 1) * (cells + 1))
  for (let i = 0; i < grid.length; i++) grid[i] = rng.next()
  // Wrap the lattice so the texture tiles without seams.
  for (let i = 0; i <= cells; i++) {
    grid[i * (cells + 1) + cells] = grid[i * (cells + 1)]
    grid[cells * (cells + 1) + i] = grid[i]
  }
  const out = new Float32Array(size * size)
  for (let y = 0; y < size; y++) {
    const gy = (y / size) * cells
    const iy = Math.floor(gy)
    let fy = gy - iy
    fy = fy * fy * (3 - 2 * fy)
    for (let x = 0; x < size; x++) {
      const gx = (x / size) * cells
      const ix = Math.floor(gx)
      let fx = gx - ix
      fx = fx * fx * (3 - 2 * fx)
      const a = grid[iy * (cells + 1) + ix]
      const b = grid[iy * (cells + 1) + ix + 1]
      const c = grid[(iy + 1) * (cells + 1) + ix]
      const d = grid[(iy + 1) * (cells + 1) + ix + 1]
      out[y * size + x] = (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy
    }
  }
  return out
}

function fbm(rng: Rng, size: number, baseCells: number, octaves: number): Float32Array {
  const out = new Float32Array(size * size)
  let amp = 1
  let total = 0
  for (let o = 0; o < octaves; o++) {
    const n = valueNoise(rng, size, baseCells << o)
    for (let i = 0; i < out.length; i++) out[i] += n[i] * amp
    total += amp
    amp *= 0.55
  }
  for (let i = 0; i < out.length; i++) out[i] /= total
  return out
}

type Rgb = [number, number, number]

const PALETTES: Record<string, Rgb[]> = {
  asphalt: [[70, 70, 72], [110, 108, 105]],
  concrete: [[150, 148, 140], [195, 192, 184]],
  grass: [[52, 82, 30], [118, 146, 58]],
  sand: [[196, 168, 122], [232, 208, 164]],
  dirt: [[96, 72, 50], [150, 118, 84]],
  paving: [[140, 96, 80], [190, 160, 140]],
  wood: [[110, 72, 40], [170, 120, 72]],
  fabric: [[40, 60, 120], [90, 120, 190]],
  paint: [[170, 40, 36], [220, 90, 70]],
  plastic: [[220, 200, 60], [250, 235, 120]],
  foliage: [[30, 60, 25], [90, 130, 60]],
  stone: [[120, 115, 110], [175, 170, 160]],
}

const proceduralCache = new Map<number, Texture[]>()

/** A bank of tileable procedural textures, identical on every machine (fixed seed); built once per size. */
export function proceduralTextures(size = 256): Texture[] {
  const cached = proceduralCache.get(size)
  if (cached) return cached
  const built = buildProcedural(size)
  proceduralCache.set(size, built)
  return built
}

function buildProcedural(size: number): Texture[] {
  const rng = new Rng(0x5eed, 7)
  const out: Texture[] = []
  const kinds = Object.keys(PALETTES)
  for (let k = 0; k < kinds.length * 2; k++) {
    const kind = kinds[k % kinds.length]
    const [c0, c1] = PALETTES[kind]
    const noise = fbm(rng, size, rng.int(2, 6), 5)
    const fine = valueNoise(rng, size, 64)
    const pattern = rng.int(0, 3) // 0 plain, 1 tiles, 2 bricks, 3 stripes/planks
    const tiles = rng.int(3, 8)
    const data = sharedBytes(size * size * 3)
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x
        let t = noise[i] * 0.8 + fine[i] * 0.2
        let grout = 1
        if (pattern === 1 || pattern === 2) {
          const cell = size / tiles
          const row = Math.floor(y / (cell * (pattern === 2 ? 0.5 : 1)))
          const shift = pattern === 2 && row % 2 === 1 ? cell / 2 : 0
          const lx = (x + shift) % cell
          const ly = y % (pattern === 2 ? cell / 2 : cell)
          if (lx < 2 || ly < 2) grout = 0.6
        } else if (pattern === 3) {
          t = t * 0.6 + 0.4 * (0.5 + 0.5 * Math.sin((x / size) * Math.PI * 2 * tiles + noise[i] * 6))
        }
        for (let c = 0; c < 3; c++) data[i * 3 + c] = Math.max(0, Math.min(255, Math.round((c0[c] + (c1[c] - c0[c]) * t) * grout)))
      }
    }
    out.push({ name: `procedural:${kind}:${k}`, photo: false, levels: buildMips(size, size, data) })
  }
  return out
}

/** The textures a run uses: photos from `dir` when given, else the procedural bank. */
export async function loadTextures(dir: string | undefined | null): Promise<TextureSet> {
  if (!dir) return { source: null, textures: proceduralTextures(), skipped: [] }
  return loadTextureFolder(dir)
}
