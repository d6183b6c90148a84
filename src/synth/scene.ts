/**
 * Random scene description for one sample: camera, sun and sky, ground (and sometimes a wall, a step,
 * a far backdrop), one inserted object and 1-4 occluders, materials and camera post-processing.
 * Everything is drawn from a PRNG seeded by the sample seed, so a seed fully determines the scene.
 */
import type { Primitive } from './primitives'
import { Box, frameYaw } from './primitives'
import { Rng } from './random'
import { SHAPE_HEIGHTS, SHAPE_KINDS, SHAPE_WEIGHTS, buildShape, type ShapeKind } from './shapes'
import type { TextureSet } from './textures'
import type { PostProcess } from '../shared/pair-format'

export type V3 = [number, number, number]

export interface Material {
  texture: number
  /** Texels (at mip level 0) per world unit. */
  scale: number
  rotation: number
  /** cos and sin of rotation (kept in the object so the sampler does no trig per sample). */
  cos: number
  sin: number
  cropX: number
  cropY: number
  cropW: number
  cropH: number
  /** Linear multiplier applied to the texture (colour and brightness of the surface). */
  tint: V3
  /** Specular sheen (0 = matte) and its Blinn-Phong exponent. */
  gloss: number
  shininess: number
}

export type EntityRole = 'object' | 'occluder' | 'env'

export interface Entity {
  role: EntityRole
  kind: string
  prims: Primitive[]
  materials: Material[]
  /** World bounding sphere of all primitives. */
  sphere: [number, number, number, number]
  /** Spheres approximating the solid, for ambient occlusion. */
  ao: Float64Array
  /** Footprint on the ground (x, z, radius) for placement. */
  footprint: [number, number, number]
  height: number
  position: V3
  yaw: number
}

export interface Camera {
  position: V3
  forward: V3
  right: V3
  up: V3
  /** tan(vertical fov / 2). */
  tanHalf: number
  fovDeg: number
  pitchDeg: number
  rollDeg: number
}

export interface Light {
  /** Unit vector towards the sun. */
  dir: V3
  azimuthDeg: number
  elevationDeg: number
  /** Angular radius of the sun disc (radians). */
  radius: number
  /** Linear RGB irradiance of the sun on a surface facing it. */
  sun: V3
  /** Linear RGB irradiance of the sky on an upward surface. */
  sky: V3
  /** Light bounced from the ground onto downward-facing surfaces. */
  bounce: V3
  /** Sky colours seen directly: at the horizon and at the zenith. */
  skyHorizon: V3
  skyZenith: V3
  setting: 'sunny' | 'hazy' | 'golden' | 'indoor'
}

export interface Plane {
  point: V3
  normal: V3
  material: Material
}

export interface Scene {
  seed: number
  attempt: number
  camera: Camera
  light: Light
  ground: Material
  wall: Plane | null
  /** A far vertical plane showing a background photo, instead of an open horizon. */
  backdrop: Plane | null
  entities: Entity[]
  objectIndex: number
  post: PostProcess
  /** World size scale of the scene (object height), for epsilons. */
  scale: number
  /** Strength of the sky-occlusion estimate near objects (0 turns it off). */
  aoStrength: number
  /** Large-scale patchiness of the ground (dirt, wear, damp): a procedural pattern and its strength. */
  groundMacro: Material | null
  groundMacroStrength: number
  /** Distance at which aerial haze hides half of a surface (Infinity: none). */
  hazeDistance: number
  textureNames: string[]
}

export const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
export const dot = (a: V3, b: V3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
export const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
export const norm = (a: V3): V3 => {
  const l = Math.hypot(a[0], a[1], a[2]) || 1
  return [a[0] / l, a[1] / l, a[2] / l]
}

/** Black-body colour approximation (Tanner Helland), returned in linear RGB with luminance 1. */
export function kelvinToLinear(k: number): V3 {
  const t = k / 100
  let r: number, g: number, b: number
  if (t <= 66) {
    r = 255
    g = 99.4708025861 * Math.log(t) - 161.1195681661
    b = t <= 19 ? 0 : 138.5177312231 * Math.log(t - 10) - 305.0447927307
  } else {
    r = 329.698727446 * Math.pow(t - 60, -0.1332047592)
    g = 288.1221695283 * Math.pow(t - 60, -0.0755148492)
    b = 255
  }
  const lin = [r, g, b].map((v) => {
    const c = Math.max(0, Math.min(255, v)) / 255
    return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)
  })
  const y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
  return [lin[0] / y, lin[1] / y, lin[2] / y]
}

/**
 * Texture indices by role; photo roles come from the first folder level (ground/, wall/,
 * background/, objects/), photos outside those folders serve every role; `procedural` holds the
 * generated patterns (every texture when there are no photos).
 */
export function texturePools(set: TextureSet): Record<'ground' | 'wall' | 'background' | 'object' | 'procedural' | 'groundProcedural', number[]> {
  const pools = { ground: [] as number[], wall: [] as number[], background: [] as number[], object: [] as number[], procedural: [] as number[], groundProcedural: [] as number[] }
  const all: number[] = []
  set.textures.forEach((t, i) => {
    if (!t.photo) {
      pools.procedural.push(i)
      return
    }
    all.push(i)
    const top = t.name.split(/[\\/]/)[0].toLowerCase()
    if (!t.name.includes('/') && !t.name.includes('\\')) return
    if (top.startsWith('ground') || top.startsWith('floor')) pools.ground.push(i)
    else if (top.startsWith('wall')) pools.wall.push(i)
    else if (top.startsWith('background') || top.startsWith('backdrop')) pools.background.push(i)
    else if (top.startsWith('object')) pools.object.push(i)
  })
  // Procedural patterns that pass for ground (not fabric, paint or plastic).
  pools.groundProcedural = pools.procedural.filter((i) => /^procedural:(asphalt|concrete|grass|sand|dirt|paving|stone|wood):/.test(set.textures[i].name))
  if (pools.groundProcedural.length === 0) pools.groundProcedural = pools.procedural
  if (all.length === 0) all.push(...pools.procedural)
  if (pools.procedural.length === 0) pools.procedural = all
  for (const k of ['ground', 'wall', 'background', 'object'] as const) if (pools[k].length === 0) pools[k] = all
  return pools
}

function randomTint(rng: Rng, saturation: number, lo: number, hi: number): V3 {
  // A random hue mixed towards grey, then scaled to a brightness: surfaces in photos are rarely saturated.
  const h = rng.next() * 6
  const f = h - Math.floor(h)
  const sector = Math.floor(h) % 6
  const rgb: V3 = [[1, f, 0], [1 - f, 1, 0], [0, 1, f], [0, 1 - f, 1], [f, 0, 1], [1, 0, 1 - f]][sector] as V3
  const s = saturation * rng.next()
  const b = rng.range(lo, hi)
  return rgb.map((c) => (1 - s + s * c) * b) as V3
}

/** Colours of real grounds and walls (linear): asphalt, concrete, sand, terracotta, soil, grass, slate. */
const NATURAL_TINTS: V3[] = [
  [0.5, 0.5, 0.5],
  [0.75, 0.72, 0.66],
  [0.9, 0.78, 0.58],
  [0.85, 0.5, 0.35],
  [0.6, 0.45, 0.32],
  [0.55, 0.7, 0.4],
  [0.55, 0.6, 0.65],
  [1, 1, 1],
]

/** A natural surface tint, jittered a little, at a random brightness. */
function naturalTint(rng: Rng, lo: number, hi: number): V3 {
  const base = rng.pick(NATURAL_TINTS)
  const b = rng.range(lo, hi) / Math.max(...base)
  return base.map((c) => c * b * Math.exp(rng.normal() * 0.05)) as V3
}

export interface SceneOptions {
  size: number
  textures: TextureSet
  /** Procedural textures mixed in among photos (index offset in textures.textures is 0..n-1 for both). */
}

export function makeMaterial(rng: Rng, set: TextureSet, pool: number[], worldSpan: number, tint: V3): Material {
  const texture = rng.pick(pool)
  const lv = set.textures[texture].levels[0]
  // A crop of the photo (30-100% of its shorter side) repeated mirror-wise over `worldSpan` units.
  const side = Math.min(lv.width, lv.height)
  const crop = Math.max(24, Math.floor(side * rng.range(0.3, 1)))
  const cropW = Math.min(lv.width, Math.floor(crop * rng.range(0.8, 1.25)))
  const cropH = Math.min(lv.height, crop)
  const rotation = rng.range(0, Math.PI * 2)
  return {
    texture,
    scale: crop / worldSpan,
    rotation,
    cos: Math.cos(rotation),
    sin: Math.sin(rotation),
    cropX: rng.int(0, lv.width - cropW),
    cropY: rng.int(0, lv.height - cropH),
    cropW,
    cropH,
    tint,
    gloss: 0,
    shininess: 16,
  }
}

function makeEntity(role: EntityRole, kind: ShapeKind, height: number, pos: V3, yaw: number, rng: Rng, set: TextureSet, pool: number[], procPool: number[], photoTex: boolean): Entity {
  const shape = buildShape(kind, height, pos, yaw, rng)
  const materials: Material[] = []
  for (let m = 0; m < shape.materials; m++) {
    const isSkin = kind === 'person' && m === 2
    const isTyre = kind === 'car' && m === 2
    const isGlass = kind === 'car' && m === 1
    let tint: V3
    if (isSkin) tint = kelvinToLinear(rng.range(2500, 5000)).map((c) => c * rng.range(0.15, 0.5)) as V3
    else if (isTyre) tint = [0.04, 0.04, 0.045]
    else if (isGlass) tint = [0.06, 0.07, 0.08]
    else tint = randomTint(rng, 0.6, rng.chance(0.3) ? 0.05 : 0.2, rng.chance(0.3) ? 1.0 : 0.75)
    // Photo detail on most surfaces; some plain (painted metal, plastic) with faint texture.
    const span = height * rng.range(0.3, 1.5)
    const plain = isSkin || isTyre || isGlass || rng.chance(0.25)
    const mat = makeMaterial(rng, set, plain ? procPool : pool, span, tint)
    if (!photoTex || plain) mat.scale *= 0.3
    mat.gloss = isGlass ? 0.6 : isSkin ? 0.05 : rng.chance(0.4) ? rng.range(0.05, 0.4) : 0
    mat.shininess = isGlass ? 200 : rng.logRange(8, 120)
    materials.push(mat)
  }
  return entityFromPrimitives(role, kind, shape.prims, materials, height, pos, yaw)
}

/** Wraps finished primitives into an entity: bounding sphere, AO proxies and footprint. */
export function entityFromPrimitives(role: EntityRole, kind: string, prims: Primitive[], materials: Material[], height: number, pos: V3, yaw: number): Entity {
  let minX = Infinity, minY = Infinity, minZ = Infinity, maxX = -Infinity, maxY = -Infinity, maxZ = -Infinity
  const ao: number[] = []
  for (const p of prims) {
    for (const c of p.corners()) {
      minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0])
      minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1])
      minZ = Math.min(minZ, c[2]); maxZ = Math.max(maxZ, c[2])
    }
    for (const s of p.aoSpheres()) ao.push(...s)
  }
  const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2, cz = (minZ + maxZ) / 2
  let r = 0
  for (const p of prims) r = Math.max(r, Math.hypot(p.sx - cx, p.sy - cy, p.sz - cz) + p.sr)
  return {
    role,
    kind,
    prims,
    materials,
    sphere: [cx, cy, cz, r],
    ao: Float64Array.from(ao),
    footprint: [(minX + maxX) / 2, (minZ + maxZ) / 2, Math.hypot(maxX - minX, maxZ - minZ) / 2],
    height,
    position: pos,
    yaw,
  }
}

export interface Projected {
  x: number
  y: number
  depth: number
}

/** Pixel coordinates (0..size) of a world point, or null behind the camera. */
export function project(cam: Camera, size: number, p: V3): Projected | null {
  const v = sub(p, cam.position)
  const z = dot(v, cam.forward)
  if (z <= 1e-6) return null
  const x = dot(v, cam.right) / (z * cam.tanHalf)
  const y = dot(v, cam.up) / (z * cam.tanHalf)
  return { x: ((x + 1) / 2) * size, y: ((1 - y) / 2) * size, depth: z }
}

/** Screen bounding box [x0, y0, x1, y1] of an entity in pixels (full frame if any corner is behind). */
export function screenBox(cam: Camera, size: number, e: Entity): [number, number, number, number] {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity
  for (const p of e.prims) {
    for (const c of p.corners()) {
      const s = project(cam, size, c)
      if (!s) return [-1, -1, size + 1, size + 1]
      x0 = Math.min(x0, s.x); x1 = Math.max(x1, s.x)
      y0 = Math.min(y0, s.y); y1 = Math.max(y1, s.y)
    }
  }
  return [x0, y0, x1, y1]
}

export function makeCamera(pos: V3, target: V3, fovDeg: number, rollDeg: number): Camera {
  const forward = norm(sub(target, pos))
  let right = norm(cross(forward, [0, 1, 0]))
  let up = cross(right, forward)
  const r = (rollDeg * Math.PI) / 180
  const c = Math.cos(r), s = Math.sin(r)
  const right2: V3 = [right[0] * c + up[0] * s, right[1] * c + up[1] * s, right[2] * c + up[2] * s]
  const up2: V3 = [up[0] * c - right[0] * s, up[1] * c - right[1] * s, up[2] * c - right[2] * s]
  right = right2
  up = up2
  return {
    position: pos,
    forward,
    right,
    up,
    tanHalf: Math.tan((fovDeg * Math.PI) / 360),
    fovDeg,
    pitchDeg: (Math.asin(Math.max(-1, Math.min(1, forward[1]))) * 180) / Math.PI,
    rollDeg,
  }
}

function pickKind(rng: Rng): ShapeKind {
  return rng.weighted(SHAPE_WEIGHTS)
}

/** Ground point seen at pixel (px, py), or null if that ray does not reach the ground ahead. */
function groundAt(cam: Camera, size: number, px: number, py: number): V3 | null {
  const x = ((2 * px) / size - 1) * cam.tanHalf
  const y = (1 - (2 * py) / size) * cam.tanHalf
  const d = norm([cam.forward[0] + x * cam.right[0] + y * cam.up[0], cam.forward[1] + x * cam.right[1] + y * cam.up[1], cam.forward[2] + x * cam.right[2] + y * cam.up[2]])
  if (d[1] > -1e-3) return null
  const t = -cam.position[1] / d[1]
  return [cam.position[0] + t * d[0], 0, cam.position[2] + t * d[2]]
}

/**
 * Draws the scene for `seed`; `attempt` > 0 redraws (a deterministic sub-stream) when a sample was
 * rejected (object off-frame, shadow invisible).
 */
export function generateScene(seed: number, attempt: number, opts: SceneOptions): Scene {
  const rng = new Rng(seed, attempt)
  const set = opts.textures
  const size = opts.size
  const pools = texturePools(set)
  const hasPhotos = set.textures.some((t) => t.photo)

  // ---------------- light
  const setting = rng.weighted({ sunny: 50, hazy: 18, golden: 14, indoor: 18 }) as Light['setting']
  let elevation: number
  if (setting === 'golden') elevation = rng.range(8, 22)
  else if (rng.chance(0.18)) elevation = rng.range(62, 84) // high sun: short shadows
  else elevation = rng.range(15, 65)
  const azimuth = rng.range(0, 360)
  const el = (elevation * Math.PI) / 180
  const az = (azimuth * Math.PI) / 180
  const dir: V3 = [Math.cos(el) * Math.sin(az), Math.sin(el), Math.cos(el) * Math.cos(az)]
  let radiusDeg: number, sunK: number, skyK: number, ratio: number
  switch (setting) {
    case 'sunny':
      radiusDeg = rng.logRange(0.27, 1.6)
      sunK = rng.range(4800, 6500)
      skyK = rng.range(9000, 16000)
      // Clear-sky diffuse irradiance is about a tenth to a fifth of the direct beam at normal
      // incidence (e.g. 100-150 W/m2 against 800-900): a shadow on the ground gets roughly 0.1-0.2
      // of the light around it, in linear terms. (umbra-synth-3 drew 0.12-0.4, which made sunny
      // shadows far paler than in photographs: shadow/lit 0.62 in sRGB at high sun.)
      ratio = rng.logRange(0.07, 0.25)
      break
    case 'hazy':
      radiusDeg = rng.logRange(1, 5)
      sunK = rng.range(4500, 6200)
      skyK = rng.range(6500, 10000)
      ratio = rng.range(0.35, 0.9)
      break
    case 'golden':
      radiusDeg = rng.logRange(0.27, 1.5)
      sunK = rng.range(2400, 3800)
      skyK = rng.range(8000, 15000)
      ratio = rng.range(0.15, 0.5)
      break
    default:
      radiusDeg = rng.logRange(2, 9)
      sunK = rng.range(2700, 5500)
      skyK = rng.range(3500, 7500)
      ratio = rng.range(0.25, 0.9)
  }
  const sunColor = kelvinToLinear(sunK)
  const skyColor = kelvinToLinear(skyK)
  const skyIrr: V3 = skyColor.map((c) => c * ratio) as V3
  const light: Light = {
    dir,
    azimuthDeg: azimuth,
    elevationDeg: elevation,
    radius: (radiusDeg * Math.PI) / 180,
    sun: sunColor,
    sky: skyIrr,
    bounce: [0, 0, 0],
    // Horizon haze is paler than the zenith: mostly white with a little of the sky's colour.
    skyHorizon: kelvinToLinear(skyK).map((c) => (0.35 * c + 0.65) * (0.9 + ratio)) as V3,
    skyZenith: skyColor.map((c) => c * (0.5 + ratio)) as V3,
    setting,
  }

  // ---------------- the inserted object and the camera looking at it
  const objKind = pickKind(rng)
  const [hLo, hHi] = SHAPE_HEIGHTS[objKind]
  const objH = rng.range(hLo, hHi)
  const fov = rng.range(38, 70)
  const tanHalf = Math.tan((fov * Math.PI) / 360)
  // Fraction of the frame height the object fills; sometimes large, as in close-up photos.
  const frac = rng.chance(0.25) ? rng.range(0.45, 0.75) : rng.range(0.14, 0.45)
  const dist = objH / (frac * 2 * tanHalf)
  const camElev = (rng.chance(0.2) ? rng.range(30, 60) : rng.range(4, 30)) * (Math.PI / 180)
  const camPos: V3 = [0, Math.max(0.15 * objH, dist * Math.sin(camElev) + objH * 0.5), -dist * Math.cos(camElev)]
  // Aim off-centre so the object lands anywhere in the middle of the frame.
  const spread = dist * tanHalf
  const target: V3 = [rng.range(-0.45, 0.45) * spread, objH * 0.5 + rng.range(-0.35, 0.3) * spread, 0]
  const camera = makeCamera(camPos, target, fov, rng.chance(0.5) ? rng.normal() * 1.5 : 0)
  const yaw = rng.range(0, Math.PI * 2)
  const objPool = pools.object
  const object = makeEntity('object', objKind, objH, [0, 0, 0], yaw, rng, set, objPool, pools.procedural, hasPhotos)

  // ---------------- environment
  const groundSpan = rng.logRange(0.4, 3)
  const groundTint = naturalTint(rng, 0.35, 1.0)
  // Plain surfaces (asphalt, concrete, sand) are common under real shadows: a third are procedural.
  const ground = makeMaterial(rng, set, hasPhotos && rng.chance(0.65) ? pools.ground : pools.groundProcedural, groundSpan, groundTint)
  let wall: Plane | null = null
  let backdrop: Plane | null = null
  const entities: Entity[] = [object]
  const wallChance = setting === 'indoor' ? 0.6 : 0.2
  if (rng.chance(wallChance)) {
    const beta = rng.range(-0.6, 0.6)
    const normal: V3 = [Math.sin(beta), 0, -Math.cos(beta)]
    const gap = object.footprint[2] + objH * rng.range(0.15, 2.5)
    const point: V3 = [-normal[0] * gap, 0, -normal[2] * gap]
    // The sun must light the wall's face, otherwise the wall would shade the whole scene.
    if (dot(normal, dir) > 0.15) {
      const wallTint = rng.chance(0.7) ? naturalTint(rng, 0.3, 0.95) : randomTint(rng, 0.4, 0.3, 0.95)
      wall = { point, normal, material: makeMaterial(rng, set, pools.wall, objH * rng.range(1, 5), wallTint) }
    }
  }
  if (!wall && setting !== 'indoor' && rng.chance(0.75)) {
    const far = dist * rng.range(2.5, 8)
    const normal: V3 = [0, 0, -1]
    const mat = makeMaterial(rng, set, pools.background, far * tanHalf * 2 * rng.range(1, 2), [1, 1, 1])
    mat.rotation = 0
    mat.cos = 1
    mat.sin = 0
    backdrop = { point: [0, 0, far], normal, material: mat }
  }
  if (rng.chance(0.2)) {
    // A step or kerb: a raised slab beyond a line behind the object.
    const beta = rng.range(-1.2, 1.2)
    const back: V3 = [Math.sin(beta), 0, Math.cos(beta)]
    const gap = object.footprint[2] + objH * rng.range(0.1, 1.5)
    const hs = objH * rng.range(0.05, 0.3)
    const depth = 60 * objH
    const c: V3 = [back[0] * (gap + depth / 2), hs / 2, back[2] * (gap + depth / 2)]
    const slab = new Box(frameYaw(c, beta), depth, hs / 2, depth / 2).finish()
    const mat = makeMaterial(rng, set, pools.ground, groundSpan, naturalTint(rng, 0.35, 1))
    const stepEntity: Entity = {
      role: 'env',
      kind: 'step',
      prims: [slab],
      materials: [mat],
      sphere: [slab.sx, slab.sy, slab.sz, slab.sr],
      ao: new Float64Array(0),
      footprint: [c[0], c[2], 0],
      height: hs,
      position: c,
      yaw: beta,
    }
    entities.push(stepEntity)
  }

  // ---------------- occluders: 1-4 objects on the visible ground, never hiding the object
  const objBox = screenBox(camera, size, object)
  const nOcc = rng.weighted({ 1: 30, 2: 35, 3: 22, 4: 13 } as Record<string, number>)
  const wantOcc = Number(nOcc)
  for (let tries = 0; tries < 60 && entities.filter((e) => e.role === 'occluder').length < wantOcc; tries++) {
    const g = groundAt(camera, size, rng.range(-0.1, 1.1) * size, rng.range(0.3, 1.05) * size)
    if (!g) continue
    if (Math.hypot(g[0] - camPos[0], g[2] - camPos[2]) > dist * 3) continue
    const kind = pickKind(rng)
    const [lo, hi] = SHAPE_HEIGHTS[kind]
    const h = rng.range(lo, hi)
    const occ = makeEntity('occluder', kind, h, g, rng.range(0, Math.PI * 2), rng, set, objPool, pools.procedural, hasPhotos)
    // Not overlapping anything on the ground.
    let ok = true
    for (const e of entities) {
      if (e.role === 'env') continue
      const d = Math.hypot(occ.footprint[0] - e.footprint[0], occ.footprint[1] - e.footprint[1])
      if (d < occ.footprint[2] + e.footprint[2] + objH * 0.05) ok = false
    }
    if (!ok) continue
    // Beyond a step line the occluder would sink into the slab: skip those spots.
    const step = entities.find((e) => e.kind === 'step')
    if (step) {
      const back: V3 = [Math.sin(step.yaw), 0, Math.cos(step.yaw)]
      const slabStart = dot(back, step.position) - 30 * objH
      if (dot(back, [occ.footprint[0], 0, occ.footprint[1]]) + occ.footprint[2] > slabStart) continue
    }
    if (wall && dot(sub([occ.footprint[0], 0, occ.footprint[1]], wall.point), wall.normal) < occ.footprint[2]) continue
    // Must not cover the object: in front of it and overlapping its screen box is out.
    const ob = screenBox(camera, size, occ)
    const overlapX = Math.min(ob[2], objBox[2]) - Math.max(ob[0], objBox[0])
    const overlapY = Math.min(ob[3], objBox[3]) - Math.max(ob[1], objBox[1])
    const occDepth = project(camera, size, [occ.footprint[0], 0, occ.footprint[1]])?.depth ?? 0
    const objDepth = project(camera, size, [0, 0, 0])?.depth ?? 0
    if (overlapX > 0 && overlapY > 0 && occDepth < objDepth) continue
    entities.push(occ)
  }
  // Occluders first, then environment casters, then the object: shadow tests rely on that order.
  const ordered = [...entities.filter((e) => e.role === 'occluder'), ...entities.filter((e) => e.role === 'env'), object]

  // Real grounds are patchy at the metre scale (wear, dirt, damp); real air hazes far surfaces.
  const groundMacro = rng.chance(0.7) ? makeMaterial(rng, set, pools.groundProcedural, rng.logRange(3, 20), [1, 1, 1]) : null
  const groundMacroStrength = rng.range(0.15, 0.45)
  const hazeDistance = setting === 'indoor' || rng.chance(0.4) ? Infinity : dist * rng.logRange(20, 200)

  // ---------------- camera post-processing
  const post: PostProcess = {
    key: setting === 'indoor' ? rng.range(0.12, 0.25) : rng.range(0.14, 0.32),
    whiteBalance: [Math.exp(rng.normal() * 0.06), 1, Math.exp(rng.normal() * 0.08)],
    white: rng.range(1.5, 5),
    saturation: rng.range(0.8, 1.2),
    contrast: rng.range(0.9, 1.2),
    vignette: rng.chance(0.5) ? rng.range(0, 0.3) : 0,
    blurSigma: rng.chance(0.5) ? rng.range(0.3, 0.9) : 0,
    noiseSigma: rng.range(0.4, 3.5),
    chromaNoise: rng.range(0, 0.5),
  }
  const names = new Set<number>([ground.texture, ...ordered.flatMap((e) => e.materials.map((m) => m.texture))])
  if (wall) names.add(wall.material.texture)
  if (backdrop) names.add(backdrop.material.texture)
  // Ground bounce: what the ground sends back up to the undersides of things.
  light.bounce = [0, 1, 2].map((c) => (light.sun[c] * Math.sin(el) + light.sky[c]) * groundTint[c] * 0.25) as V3

  return {
    seed,
    attempt,
    camera,
    light,
    ground,
    wall,
    backdrop,
    entities: ordered,
    objectIndex: ordered.length - 1,
    post,
    scale: objH,
    aoStrength: 0.35,
    groundMacro,
    groundMacroStrength,
    hazeDistance,
    textureNames: [...names].sort((a, b) => a - b).map((i) => set.textures[i].name),
  }
}

export { SHAPE_KINDS }
