/**
 * The CPU ray caster: renders one scene twice in a single pass (with and without the inserted
 * object's shadow), with supersampled anti-aliasing, soft sun shadows from several shadow rays per
 * sample across the sun disc, sky light with an ambient-occlusion estimate, and camera-like
 * post-processing (exposure, white balance, tone curve, vignette, blur, sensor noise).
 */
import type { RawImage } from '../core/image'
import type { SynthPairMeta } from '../shared/pair-format'
import { hash2, Rng } from './random'
import { dot, generateScene, project, screenBox, type Entity, type Material, type Scene, type V3 } from './scene'
import { SRGB_TO_LINEAR, type TextureSet } from './textures'
import type { Primitive } from './primitives'

export const GENERATOR_VERSION = 'umbra-synth-4'

export interface RenderOptions {
  /** Output width and height in pixels (square). */
  size: number
  textures: TextureSet
  /** Shadow rays per subsample across the sun disc. */
  sunSamples?: number
  /** Redraws allowed when a scene is rejected (object off-frame or its shadow invisible). */
  maxAttempts?: number
  /** Replace the drawn light (tests: a known sun). */
  lightOverride?: { azimuthDeg: number; elevationDeg: number; radiusDeg?: number }
  /** Replace the drawn scene (tests build their own). */
  sceneOverride?: (scene: Scene) => Scene
}

/** meta.json of a synthetic pair: the documented type lives with the pair format. */
export type PairMeta = SynthPairMeta

export interface RenderedPair {
  noShadow: RawImage
  shadow: RawImage
  object: RawImage
  objectShadow: RawImage
  occluders: RawImage
  occluderShadows: RawImage
  meta: PairMeta
}

const HIT_SKY = -1
const HIT_GROUND = -2
const HIT_WALL = -3
const HIT_BACKDROP = -4

/** Level-of-detail and texel lookup in linear light, with mirror repeat inside the crop. */
class TexSampler {
  constructor(private readonly set: TextureSet) {}

  sample(m: Material, u: number, v: number, footprint: number, out: Float64Array): void {
    const tex = this.set.textures[m.texture]
    const ca = m.cos
    const sa = m.sin
    const tu = (u * ca - v * sa) * m.scale
    const tv = (u * sa + v * ca) * m.scale
    // Mip level = round(log2(texels per pixel)), from the integer bit length (no log per sample).
    const texels = footprint * m.scale * 1.41421356
    let level = texels >= 2 ? 31 - Math.clz32(texels | 0) : 0
    if (level >= tex.levels.length) level = tex.levels.length - 1
    const lv = tex.levels[level]
    const f = 1 / (1 << level)
    const x = (m.cropX + mirror(tu, m.cropW)) * f - 0.5
    const y = (m.cropY + mirror(tv, m.cropH)) * f - 0.5
    let x0 = Math.floor(x)
    let y0 = Math.floor(y)
    const fx = x - x0
    const fy = y - y0
    const w = lv.width
    const h = lv.height
    let x1 = x0 + 1
    let y1 = y0 + 1
    if (x0 < 0) x0 = 0
    if (y0 < 0) y0 = 0
    if (x1 >= w) x1 = w - 1
    if (y1 >= h) y1 = h - 1
    if (x0 >= w) x0 = w - 1
    if (y0 >= h) y0 = h - 1
    const d = lv.data
    const i00 = (y0 * w + x0) * 3
    const i10 = (y0 * w + x1) * 3
    const i01 = (y1 * w + x0) * 3
    const i11 = (y1 * w + x1) * 3
    const w00 = (1 - fx) * (1 - fy)
    const w10 = fx * (1 - fy)
    const w01 = (1 - fx) * fy
    const w11 = fx * fy
    const L = SRGB_TO_LINEAR
    out[0] = (L[d[i00]] * w00 + L[d[i10]] * w10 + L[d[i01]] * w01 + L[d[i11]] * w11) * m.tint[0]
    out[1] = (L[d[i00 + 1]] * w00 + L[d[i10 + 1]] * w10 + L[d[i01 + 1]] * w01 + L[d[i11 + 1]] * w11) * m.tint[1]
    out[2] = (L[d[i00 + 2]] * w00 + L[d[i10 + 2]] * w10 + L[d[i01 + 2]] * w01 + L[d[i11 + 2]] * w11) * m.tint[2]
  }
}

function mirror(x: number, n: number): number {
  const p = 2 * n
  let m = x % p
  if (m < 0) m += p
  return m < n ? m : p - m - 1e-6
}

/** Rays shot before deciding whether a point is in a penumbra. */
const EARLY_RAYS = 4

/**
 * Sun-disc sample offsets in the unit disc: first EARLY_RAYS spread on a ring (so that agreement
 * among them means lit or umbra), then a golden-angle spiral for the rest.
 */
function discPattern(n: number): Float64Array {
  const out = new Float64Array(Math.max(n, EARLY_RAYS) * 2)
  for (let i = 0; i < EARLY_RAYS; i++) {
    const a = (i / EARLY_RAYS) * Math.PI * 2 + Math.PI / 4
    out[2 * i] = 0.75 * Math.cos(a)
    out[2 * i + 1] = 0.75 * Math.sin(a)
  }
  const rest = n - EARLY_RAYS
  for (let i = 0; i < rest; i++) {
    const r = Math.sqrt((i + 0.5) / rest)
    const a = i * 2.399963229728653
    out[2 * (i + EARLY_RAYS)] = r * Math.cos(a)
    out[2 * (i + EARLY_RAYS) + 1] = r * Math.sin(a)
  }
  return out
}

interface Buffers {
  linNo: Float32Array
  linSh: Float32Array
  /** Fraction of each pixel's samples that saw the object / an occluder / an occluder's cast shadow. */
  objCov: Float32Array
  occCov: Float32Array
  occShadowCov: Float32Array
}

// Layout of the per-sample result.
const R_HIT = 6
const R_ROLE = 7
const R_PARTIAL = 8
const R_OCCSHADOW = 9
const ROLE_NONE = 0
const ROLE_OBJECT = 1
const ROLE_OCCLUDER = 2
const ROLE_ENV = 3

const TIMING = !!process.env.UMBRA_SYNTH_TIMING

/** A change of sun visibility between neighbours (in visSh + 2 visNo units) that asks for anti-aliasing. */
const VIS_JUMP = 0.6

/** Subsample offsets inside a pixel (rotated grid: good edge anti-aliasing for 4 samples). */
const SUBSAMPLES = [
  [0.375, 0.125],
  [0.875, 0.375],
  [0.625, 0.875],
  [0.125, 0.625],
]

/** Everything a camera ray needs, gathered once per render (module-level code optimizes once, closures would not). */
function tracerState(scene: Scene, size: number, set: TextureSet, ns: number) {
  const cam = scene.camera
  const light = scene.light
  const ents = scene.entities
  const nEnt = ents.length
  const objIdx = scene.objectIndex
  const sampler = new TexSampler(set)
  const boxes = ents.map((e) => screenBox(cam, size, e))
  // Flat primitive list with owner entity and role, in entity order (occluders, env, object).
  const allPrims: Primitive[] = []
  const primOwner: number[] = []
  const entRole = new Int32Array(nEnt)
  for (let e = 0; e < nEnt; e++) {
    entRole[e] = ents[e].role === 'object' ? ROLE_OBJECT : ents[e].role === 'occluder' ? ROLE_OCCLUDER : ROLE_ENV
    for (const p of ents[e].prims) {
      allPrims.push(p)
      primOwner.push(e)
    }
  }
  const nPrim = allPrims.length
  const primRole = Int32Array.from(primOwner.map((e) => entRole[e]))
  // Bounding spheres and screen boxes per primitive, flat, for inline culling in the hot loops.
  const pS = new Float64Array(nPrim * 4)
  const pB = new Float64Array(nPrim * 4)
  for (let k = 0; k < nPrim; k++) {
    const p = allPrims[k]
    pS[4 * k] = p.sx; pS[4 * k + 1] = p.sy; pS[4 * k + 2] = p.sz; pS[4 * k + 3] = p.sr * p.sr
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity
    for (const c of p.corners()) {
      const q = project(cam, size, c)
      if (!q) {
        x0 = -1e9; y0 = -1e9; x1 = 1e9; y1 = 1e9
        break
      }
      x0 = Math.min(x0, q.x); x1 = Math.max(x1, q.x); y0 = Math.min(y0, q.y); y1 = Math.max(y1, q.y)
    }
    pB[4 * k] = x0 - 1; pB[4 * k + 1] = y0 - 1; pB[4 * k + 2] = x1 + 1; pB[4 * k + 3] = y1 + 1
  }
  const candPrim = new Int32Array(nPrim)
  const [Lx, Ly, Lz] = light.dir
  // Orthonormal basis around the sun direction for disc sampling.
  let ux = -Lz, uy = 0, uz = Lx
  let ul = Math.hypot(ux, uy, uz)
  if (ul < 1e-6) {
    ux = 1; uy = 0; uz = 0; ul = 1
  }
  ux /= ul; uy /= ul; uz /= ul
  const Ux0 = ux, Uy0 = uy, Uz0 = uz
  const vx = Ly * uz - Lz * uy
  const vy = Lz * ux - Lx * uz
  const vz = Lx * uy - Ly * ux
  const tanR = Math.tan(light.radius)
  const pattern = discPattern(ns)
  const coneSlack = tanR * 1.02 + 1e-9
  const eps = scene.scale * 2e-4
  const pixAngle = (2 * cam.tanHalf) / size
  const [Fx, Fy, Fz] = cam.forward
  const [Rx, Ry, Rz] = cam.right
  const [Ux, Uy, Uz] = cam.up
  const [Ox, Oy, Oz] = cam.position
  const sunR = light.sun[0], sunG = light.sun[1], sunB = light.sun[2]
  const skyR = light.sky[0], skyG = light.sky[1], skyB = light.sky[2]
  const bR = light.bounce[0], bG = light.bounce[1], bB = light.bounce[2]
  const sunLum = Math.max(0.05, Math.sin((light.elevationDeg * Math.PI) / 180))
  const nrm = new Float64Array(9)
  const alb = new Float64Array(3)
  const tmp3 = new Float64Array(3)
  const hazeDist = scene.hazeDistance
  // Mean brightness of the ground's patch pattern, so the patches average to 1.
  let macroMean = 1
  if (scene.groundMacro) {
    const lv = set.textures[scene.groundMacro.texture].levels
    const top = lv[lv.length - 1]
    let acc = 0
    for (let i = 0; i < top.data.length; i += 3) acc += SRGB_TO_LINEAR[top.data[i]] * 0.2126 + SRGB_TO_LINEAR[top.data[i + 1]] * 0.7152 + SRGB_TO_LINEAR[top.data[i + 2]] * 0.0722
    macroMean = Math.max(1e-3, acc / (top.data.length / 3))
  }
  const wall = scene.wall
  const backdrop = scene.backdrop
  const aoStrength = scene.aoStrength

  return {
    cam,
    light,
    ents,
    nEnt,
    objIdx,
    sampler,
    allPrims,
    primRole,
    entRole,
    candPrim,
    pS,
    pB,
    Lx,
    Ly,
    Lz,
    vx,
    vy,
    vz,
    tanR,
    pattern,
    coneSlack,
    eps,
    pixAngle,
    Fx,
    Fy,
    Fz,
    Rx,
    Ry,
    Rz,
    Ux,
    Uy,
    Uz,
    Ox,
    Oy,
    Oz,
    sunR,
    sunG,
    sunB,
    skyR,
    skyG,
    skyB,
    bR,
    bG,
    bB,
    sunLum,
    nrm,
    alb,
    wall,
    backdrop,
    aoStrength,
    boxes,
    scene,
    size,
    ns,
    tmp3,
    hazeDist,
    macroMean,
    ux: Ux0,
    uy: Uy0,
    uz: Uz0,
  }
}

type TracerState = ReturnType<typeof tracerState>

/** Shades one camera ray through image point (pxF, pyF); writes radiances and flags into res. */
function shade(st: TracerState, pxF: number, pyF: number, jitter: number, res: Float64Array): void {
  const { cam, light, ents, nEnt, objIdx, sampler, allPrims, primRole, entRole, candPrim, pS, pB, Lx, Ly, Lz, vx, vy, vz, tanR, pattern, coneSlack, eps, pixAngle, Fx, Fy, Fz, Rx, Ry, Rz, Ux, Uy, Uz, Ox, Oy, Oz, sunR, sunG, sunB, skyR, skyG, skyB, bR, bG, bB, sunLum, nrm, alb, wall, backdrop, aoStrength, boxes, scene, size, ns, tmp3, hazeDist, macroMean, ux, uy, uz } = st
  const xN = ((2 * pxF) / size - 1) * cam.tanHalf
  const yN = (1 - (2 * pyF) / size) * cam.tanHalf
  let dx = Fx + xN * Rx + yN * Ux
  let dy = Fy + xN * Ry + yN * Uy
  let dz = Fz + xN * Rz + yN * Uz
  const dl = 1 / Math.sqrt(dx * dx + dy * dy + dz * dz)
  dx *= dl; dy *= dl; dz *= dl
  res[R_ROLE] = ROLE_NONE
  // Sun visibility summary (visSh + 2 visNo; 3 = fully lit) for the refinement test.
  res[R_PARTIAL] = 3
  res[R_OCCSHADOW] = 0

  // ---- primary visibility
  let tBest = Infinity
  let hit = HIT_SKY
  let hitPrim = -1
  if (dy < 0) {
    tBest = -Oy / dy
    hit = HIT_GROUND
  }
  if (wall) {
    const den = dx * wall.normal[0] + dy * wall.normal[1] + dz * wall.normal[2]
    if (den < 0) {
      const t = ((wall.point[0] - Ox) * wall.normal[0] + (wall.point[1] - Oy) * wall.normal[1] + (wall.point[2] - Oz) * wall.normal[2]) / den
      if (t > 0 && t < tBest) {
        tBest = t
        hit = HIT_WALL
      }
    }
  }
  if (backdrop) {
    const den = dx * backdrop.normal[0] + dy * backdrop.normal[1] + dz * backdrop.normal[2]
    if (den < 0) {
      const t = ((backdrop.point[0] - Ox) * backdrop.normal[0] + (backdrop.point[1] - Oy) * backdrop.normal[1] + (backdrop.point[2] - Oz) * backdrop.normal[2]) / den
      if (t > 0 && t < tBest) {
        tBest = t
        hit = HIT_BACKDROP
      }
    }
  }
  let k0 = 0
  for (let e = 0; e < nEnt; e++) {
    const b = boxes[e]
    const nPe = ents[e].prims.length
    if (pxF < b[0] - 1 || pxF > b[2] + 1 || pyF < b[1] - 1 || pyF > b[3] + 1) {
      k0 += nPe
      continue
    }
    for (let k = k0; k < k0 + nPe; k++) {
      if (pxF < pB[4 * k] || pxF > pB[4 * k + 2] || pyF < pB[4 * k + 1] || pyF > pB[4 * k + 3]) continue
      const t = allPrims[k].hit(Ox, Oy, Oz, dx, dy, dz, tBest)
      if (t < tBest) {
        tBest = t
        hit = e
        hitPrim = k
      }
    }
    k0 += nPe
  }
  res[R_HIT] = hit >= 0 ? 1000 + hitPrim : hit

  if (hit === HIT_SKY) {
    const k = Math.sqrt(Math.max(0, dy))
    const s = sunLum * 0.6 + 0.4
    res[0] = res[3] = (light.skyHorizon[0] * (1 - k) + light.skyZenith[0] * k) * s
    res[1] = res[4] = (light.skyHorizon[1] * (1 - k) + light.skyZenith[1] * k) * s
    res[2] = res[5] = (light.skyHorizon[2] * (1 - k) + light.skyZenith[2] * k) * s
    return
  }
  const Px = Ox + tBest * dx
  const Py = Oy + tBest * dy
  const Pz = Oz + tBest * dz
  let Nx: number, Ny: number, Nz: number
  let spec = 0
  let footprint = tBest * pixAngle
  if (hit === HIT_BACKDROP && backdrop) {
    // A distant photo: lit evenly, slightly hazed towards the horizon colour.
    sampler.sample(backdrop.material, Px, -Py, footprint, alb)
    const lit = sunLum * 0.7 + 0.5
    const haze = 0.15
    for (let c = 0; c < 3; c++) res[c] = res[c + 3] = alb[c] * (light.sun[c] * sunLum * 0.8 + light.sky[c] * 1.2) * (1 - haze) + light.skyHorizon[c] * haze * lit
    return
  }
  if (hit === HIT_GROUND) {
    Nx = 0; Ny = 1; Nz = 0
    footprint /= Math.max(0.12, -dy)
    sampler.sample(scene.ground, Px, Pz, footprint, alb)
    const macro = scene.groundMacro
    if (macro) {
      // Multiply by the pattern's brightness around 1: patches, not a colour cast.
      sampler.sample(macro, Px, Pz, footprint, tmp3)
      const lum = (tmp3[0] * 0.2126 + tmp3[1] * 0.7152 + tmp3[2] * 0.0722) / macroMean
      const f = 1 + scene.groundMacroStrength * (Math.min(2, lum) - 1)
      alb[0] *= f; alb[1] *= f; alb[2] *= f
    }
  } else if (hit === HIT_WALL && wall) {
    Nx = wall.normal[0]; Ny = wall.normal[1]; Nz = wall.normal[2]
    const cosI = -(dx * Nx + dy * Ny + dz * Nz)
    footprint /= Math.max(0.12, cosI)
    // Wall texture axes: horizontal along the wall, vertical down.
    sampler.sample(wall.material, Px * -Nz + Pz * Nx, -Py, footprint, alb)
  } else {
    const prim = allPrims[hitPrim]
    prim.normal(Px, Py, Pz, nrm)
    Nx = nrm[0]; Ny = nrm[1]; Nz = nrm[2]
    if (Nx * dx + Ny * dy + Nz * dz > 0) {
      Nx = -Nx; Ny = -Ny; Nz = -Nz
    }
    const cosI = -(dx * Nx + dy * Ny + dz * Nz)
    footprint /= Math.max(0.12, cosI)
    const ax = Math.abs(nrm[6]), ay = Math.abs(nrm[7]), az = Math.abs(nrm[8])
    let u: number, v: number
    if (ax >= ay && ax >= az) { u = nrm[5]; v = -nrm[4] }
    else if (ay >= az) { u = nrm[3]; v = nrm[5] }
    else { u = nrm[3]; v = -nrm[4] }
    const mat = ents[hit].materials[prim.material]
    sampler.sample(mat, u, v, footprint, alb)
    res[R_ROLE] = entRole[hit]
    if (mat.gloss > 0) {
      // Blinn-Phong sheen: half vector between the sun and the viewer.
      let hx = Lx - dx, hy = Ly - dy, hz = Lz - dz
      const hl = 1 / Math.sqrt(hx * hx + hy * hy + hz * hz)
      hx *= hl; hy *= hl; hz *= hl
      const nh = Nx * hx + Ny * hy + Nz * hz
      spec = nh > 0 ? mat.gloss * Math.pow(nh, mat.shininess) * (mat.shininess + 8) * 0.04 : 0
    }
  }

  // ---- sun visibility over the disc, split by who blocks it
  const ndl = Nx * Lx + Ny * Ly + Nz * Lz
  let visNo = 0
  let visSh = 0
  if (ndl > 0) {
    const Sx = Px + Nx * eps, Sy = Py + Ny * eps, Sz = Pz + Nz * eps
    // Primitives whose bounding sphere meets the cone towards the sun disc.
    let nc = 0
    let k = 0
    for (let e = 0; e < nEnt; e++) {
      const nPe = ents[e].prims.length
      const s = ents[e].sphere
      const cx = s[0] - Sx, cy = s[1] - Sy, cz = s[2] - Sz
      const along = cx * Lx + cy * Ly + cz * Lz
      const perp2 = cx * cx + cy * cy + cz * cz - along * along
      const reach = s[3] + (along > 0 ? along * coneSlack : 0)
      if (along < -s[3] || perp2 > reach * reach) {
        k += nPe
        continue
      }
      for (const end = k + nPe; k < end; k++) {
        const p = allPrims[k]
        const qx = p.sx - Sx, qy = p.sy - Sy, qz = p.sz - Sz
        const al = qx * Lx + qy * Ly + qz * Lz
        if (al < -p.sr) continue
        const pp = qx * qx + qy * qy + qz * qz - al * al
        const rr = p.sr + (al > 0 ? al * coneSlack : 0)
        if (pp > rr * rr) continue
        candPrim[nc++] = k
      }
    }
    if (nc === 0) {
      visNo = 1
      visSh = 1
    } else {
      const rot = (jitter / 4294967296) * Math.PI * 2
      const cr = Math.cos(rot), sr = Math.sin(rot)
      let blockedOcc = 0, blockedEnv = 0, blockedObj = 0
      // Four well-spread rays first; only if they disagree (a penumbra) shoot the rest.
      let total = ns
      for (let s = 0; s < total; s++) {
        if (s === EARLY_RAYS && (blockedOcc === EARLY_RAYS || blockedEnv === EARLY_RAYS || blockedObj === EARLY_RAYS || blockedOcc + blockedEnv + blockedObj === 0)) {
          total = EARLY_RAYS
          break
        }
        const a = pattern[2 * s], b = pattern[2 * s + 1]
        const pa = (a * cr - b * sr) * tanR
        const pb = (a * sr + b * cr) * tanR
        let rx = Lx + pa * ux + pb * vx
        let ry = Ly + pa * uy + pb * vy
        let rz = Lz + pa * uz + pb * vz
        const rl = 1 / Math.sqrt(rx * rx + ry * ry + rz * rz)
        rx *= rl; ry *= rl; rz *= rl
        for (let c = 0; c < nc; c++) {
          const pk = candPrim[c]
          // Inline bounding-sphere test: most candidate primitives miss most rays.
          const q = 4 * pk
          const wx = pS[q] - Sx, wy = pS[q + 1] - Sy, wz = pS[q + 2] - Sz
          const bb = wx * rx + wy * ry + wz * rz
          if (bb < 0 && wx * wx + wy * wy + wz * wz > pS[q + 3]) continue
          if (wx * wx + wy * wy + wz * wz - bb * bb > pS[q + 3]) continue
          if (allPrims[pk].hitNoCull(Sx, Sy, Sz, rx, ry, rz, Infinity) < Infinity) {
            const role = primRole[pk]
            if (role === ROLE_OCCLUDER) blockedOcc++
            else if (role === ROLE_ENV) blockedEnv++
            else blockedObj++
            break
          }
        }
      }
      const nsUsed = total
      visSh = 1 - (blockedOcc + blockedEnv + blockedObj) / nsUsed
      // The object's own surface keeps its self-shadowing in both images.
      visNo = hit === objIdx ? visSh : 1 - (blockedOcc + blockedEnv) / nsUsed
      if (blockedOcc * 2 >= nsUsed && (hit < 0 || entRole[hit] === ROLE_ENV)) res[R_OCCSHADOW] = 1
      res[R_PARTIAL] = visSh + 2 * visNo
    }
  }

  // ---- sky occlusion estimate from sphere proxies (self excluded)
  let aoOther = 0
  let aoObj = 0
  // Only the ground, walls and steps get the estimate: on the things themselves it matters little.
  for (let e = 0; e < nEnt && aoStrength > 0 && (hit < 0 || entRole[hit] === ROLE_ENV); e++) {
    if (e === hit) continue
    const ent: Entity = ents[e]
    const s = ent.sphere
    const ddx = s[0] - Px, ddy = s[1] - Py, ddz = s[2] - Pz
    const d2 = ddx * ddx + ddy * ddy + ddz * ddz
    if (d2 > 6 * s[3] * s[3]) continue
    const ao = ent.ao
    let occ = 0
    for (let q = 0; q < ao.length; q += 4) {
      const qx = ao[q] - Px, qy = ao[q + 1] - Py, qz = ao[q + 2] - Pz
      const q2 = qx * qx + qy * qy + qz * qz
      const r2 = ao[q + 3] * ao[q + 3]
      const cosT = (qx * Nx + qy * Ny + qz * Nz) / Math.sqrt(q2)
      if (cosT <= 0) continue
      occ += cosT * Math.min(1, r2 / Math.max(q2, 1e-12))
    }
    if (e === objIdx) aoObj += occ
    else aoOther += occ
  }
  const hemi = 0.5 + 0.5 * Ny
  const skyNo = hemi * (1 - Math.min(0.8, aoOther * aoStrength))
  const skySh = hit === objIdx ? skyNo : hemi * (1 - Math.min(0.8, (aoOther + aoObj) * aoStrength))
  const bounce = 0.5 - 0.5 * Ny
  const sunNo = ndl > 0 ? ndl * visNo : 0
  const sunSh = ndl > 0 ? ndl * visSh : 0
  const specNo = spec * (ndl > 0 ? visNo : 0)
  const specSh = spec * (ndl > 0 ? visSh : 0)
  // Aerial haze: far surfaces fade towards the horizon colour, in both images alike.
  const haze = hazeDist < Infinity ? 1 - Math.exp((-tBest * 0.693) / hazeDist) : 0
  const keep = 1 - haze
  const hzR = light.skyHorizon[0] * haze * (sunLum * 0.6 + 0.4)
  const hzG = light.skyHorizon[1] * haze * (sunLum * 0.6 + 0.4)
  const hzB = light.skyHorizon[2] * haze * (sunLum * 0.6 + 0.4)
  res[0] = alb[0] * (sunR * sunNo + skyR * skyNo + bR * bounce) + sunR * specNo
  res[1] = alb[1] * (sunG * sunNo + skyG * skyNo + bG * bounce) + sunG * specNo
  res[2] = alb[2] * (sunB * sunNo + skyB * skyNo + bB * bounce) + sunB * specNo
  res[3] = alb[0] * (sunR * sunSh + skyR * skySh + bR * bounce) + sunR * specSh
  res[4] = alb[1] * (sunG * sunSh + skyG * skySh + bG * bounce) + sunG * specSh
  res[5] = alb[2] * (sunB * sunSh + skyB * skySh + bB * bounce) + sunB * specSh
  if (haze > 0) {
    res[0] = res[0] * keep + hzR; res[1] = res[1] * keep + hzG; res[2] = res[2] * keep + hzB
    res[3] = res[3] * keep + hzR; res[4] = res[4] * keep + hzG; res[5] = res[5] * keep + hzB
  }
}

/**
 * Scratch buffers reused from render to render (per thread): allocating ~5 MB of typed arrays per
 * sample made the garbage collector a large share of the time. Only returned images are fresh.
 */
const scratchBySize = new Map<number, { f32: Float32Array[]; i32: Int32Array; u8: Uint8Array }>()
function scratch(size: number) {
  let s = scratchBySize.get(size)
  if (!s) {
    const n = size * size
    // 0,1: linNo/linSh, 2-4: coverages, 5: vis, 6,7: developed images, 8: blur temp
    s = {
      f32: [n * 3, n * 3, n, n, n, n, n * 3, n * 3, n * 3].map((len) => new Float32Array(len)),
      i32: new Int32Array(n),
      u8: new Uint8Array(n),
    }
    scratchBySize.set(size, s)
  }
  return s
}

/** Adds one weighted sample to the pixel's accumulators. */
function putSample(buf: Buffers, res: Float64Array, i: number, w: number): void {
  const o = i * 3
  buf.linNo[o] += res[0] * w; buf.linNo[o + 1] += res[1] * w; buf.linNo[o + 2] += res[2] * w
  buf.linSh[o] += res[3] * w; buf.linSh[o + 1] += res[4] * w; buf.linSh[o + 2] += res[5] * w
  if (res[R_ROLE] === ROLE_OBJECT) buf.objCov[i] += w
  else if (res[R_ROLE] === ROLE_OCCLUDER) buf.occCov[i] += w
  if (res[R_OCCSHADOW]) buf.occShadowCov[i] += w
}

/**
 * Renders the linear-light images and coverages of a scene. Adaptive: one sample at each pixel
 * centre, then 4 more in pixels on a silhouette edge or in a penumbra (partial sun visibility).
 */
function traceScene(scene: Scene, size: number, set: TextureSet, ns: number): Buffers {
  const st = tracerState(scene, size, set, ns)
  const sc = scratch(size)
  for (let k = 0; k < 6; k++) sc.f32[k].fill(0)
  const buf: Buffers = { linNo: sc.f32[0], linSh: sc.f32[1], objCov: sc.f32[2], occCov: sc.f32[3], occShadowCov: sc.f32[4] }
  // ---- pass 1: pixel centres
  const res = new Float64Array(10)
  const hitCode = sc.i32
  const vis = sc.f32[5]
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x
      shade(st, x + 0.5, y + 0.5, hash2(x, y), res)
      hitCode[i] = res[R_HIT]
      vis[i] = res[R_PARTIAL]
      putSample(buf, res, i, 1)
    }
  }
  // ---- pass 2: refine silhouette edges and penumbrae with 4 more samples (5 in all)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x
      // Refine where the surface changes (silhouettes) or the sun visibility jumps between neighbours
      // (hard shadow edges); wide, smooth penumbrae are left to the per-pixel jitter.
      let refine = false
      const h = hitCode[i]
      const vi = vis[i]
      {
        for (let oy = -1; oy <= 1 && !refine; oy++) {
          const yy = y + oy
          if (yy < 0 || yy >= size) continue
          for (let ox = -1; ox <= 1; ox++) {
            const xx = x + ox
            if (xx < 0 || xx >= size) continue
            const j = yy * size + xx
            if (hitCode[j] !== h || Math.abs(vis[j] - vi) > VIS_JUMP) {
              refine = true
              break
            }
          }
        }
      }
      if (!refine) continue
      const o = i * 3
      for (let c = 0; c < 3; c++) {
        buf.linNo[o + c] *= 0.2
        buf.linSh[o + c] *= 0.2
      }
      buf.objCov[i] *= 0.2
      buf.occCov[i] *= 0.2
      buf.occShadowCov[i] *= 0.2
      for (let s = 0; s < 4; s++) {
        shade(st, x + SUBSAMPLES[s][0], y + SUBSAMPLES[s][1], hash2(x * 4 + s + 1, y * 4 + s + 7), res)
        putSample(buf, res, i, 0.2)
        }
    }
  }
  return buf
}

/** Separable Gaussian blur of an interleaved RGB float image, in place. */
function blurRgb(img: Float32Array, size: number, sigma: number): void {
  if (sigma <= 0.05) return
  const r = Math.max(1, Math.ceil(sigma * 2.5))
  const k = new Float32Array(2 * r + 1)
  let sum = 0
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp((-i * i) / (2 * sigma * sigma))
  for (let i = 0; i < k.length; i++) k[i] /= sum
  const tmp = scratch(size).f32[8]
  blurPass(img, tmp, size, k, true)
  blurPass(tmp, img, size, k, false)
}

/** One pass of blurRgb along rows (`alongX`) or columns, edges clamped. */
function blurPass(src: Float32Array, dst: Float32Array, size: number, k: Float32Array, alongX: boolean): void {
  const r = (k.length - 1) / 2
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let a = 0, b = 0, c = 0
      for (let i = -r; i <= r; i++) {
        const j = alongX ? (y * size + Math.min(size - 1, Math.max(0, x + i))) * 3 : (Math.min(size - 1, Math.max(0, y + i)) * size + x) * 3
        const w = k[i + r]
        a += src[j] * w; b += src[j + 1] * w; c += src[j + 2] * w
      }
      const o = (y * size + x) * 3
      dst[o] = a; dst[o + 1] = b; dst[o + 2] = c
    }
  }
}

/** Camera pipeline: exposure from the no-shadow frame, white balance, vignette, tone curve, sRGB. */
function develop(scene: Scene, size: number, lin: Float32Array, exposure: number, out: Float32Array): Float32Array {
  const p = scene.post
  // A camera's curve keeps the mid-tones and shadows linear (before sRGB encoding) and rolls the
  // highlights off from a knee. (umbra-synth-3 used global Reinhard, v / (1 + v), which compresses
  // the lit ground about 1.5x against its shadow and made every shadow look paler than in photos.)
  const knee = 1 - 1 / p.white
  const half = size / 2
  // sRGB encoding and contrast through a table over the tone-mapped value in [0, 1].
  const LUT_N = 4096
  const lut = new Float32Array(LUT_N + 1)
  for (let k = 0; k <= LUT_N; k++) {
    const t = k / LUT_N
    const s = t <= 0.0031308 ? t * 12.92 : 1.055 * Math.pow(t, 1 / 2.4) - 0.055
    lut[k] = 0.5 + (s - 0.5) * p.contrast
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3
      const rx = (x + 0.5 - half) / half
      const ry = (y + 0.5 - half) / half
      const vig = 1 - p.vignette * 0.5 * (rx * rx + ry * ry)
      for (let c = 0; c < 3; c++) {
        const v = lin[i + c] * exposure * p.whiteBalance[c] * vig
        const t = v <= knee ? v : knee + (1 - knee) * (1 - Math.exp(-(v - knee) / (1 - knee)))
        const f = t * LUT_N
        const k = Math.floor(f)
        out[i + c] = k >= LUT_N ? lut[LUT_N] : lut[k] + (lut[k + 1] - lut[k]) * (f - k)
      }
      const luma = 0.299 * out[i] + 0.587 * out[i + 1] + 0.114 * out[i + 2]
      for (let c = 0; c < 3; c++) out[i + c] = (luma + (out[i + c] - luma) * p.saturation) * 255
    }
  }
  return out
}

/** Exposure that maps the log-average luminance of the frame to the scene's key value. */
function autoExposure(scene: Scene, lin: Float32Array): number {
  let acc = 0
  const n = lin.length / 3
  for (let i = 0; i < n; i++) {
    const l = 0.2126 * lin[3 * i] + 0.7152 * lin[3 * i + 1] + 0.0722 * lin[3 * i + 2]
    acc += Math.log(1e-4 + l)
  }
  const logAvg = Math.exp(acc / n)
  // The curve is linear below its knee: the frame's log-average lands on the key itself.
  return scene.post.key / Math.max(1e-4, logAvg)
}

let gaussian: Float32Array | null = null
/** 4096 standard-normal quantiles: noise by table lookup, identical on every machine. */
function gaussianTable(): Float32Array {
  if (gaussian) return gaussian
  const t = new Float32Array(4096)
  const rng = new Rng(12345, 99)
  for (let i = 0; i < t.length; i++) t[i] = rng.normal()
  gaussian = t
  return t
}

/** Relative darkening by the object that counts as its shadow in object-shadow.png. */
const SHADOW_RATIO = 0.07

interface Finished extends RenderedPair {
  accepted: boolean
}

function finish(scene: Scene, size: number, buf: Buffers): Finished {
  const exposure = autoExposure(scene, buf.linNo)
  const sc = scratch(size)
  const a = develop(scene, size, buf.linNo, exposure, sc.f32[6])
  const b = develop(scene, size, buf.linSh, exposure, sc.f32[7])
  blurRgb(a, size, scene.post.blurSigma)
  blurRgb(b, size, scene.post.blurSigma)
  // One noise field for both images: sensor noise must not differ between the pair.
  const rng = new Rng(scene.seed, 1000 + scene.attempt)
  const px = size * size
  const A = new Uint8Array(px * 3)
  const B = new Uint8Array(px * 3)
  const sig = scene.post.noiseSigma
  const chroma = scene.post.chromaNoise
  const G = gaussianTable()
  for (let i = 0; i < px; i++) {
    const nl = G[rng.uint() & 4095] * sig
    for (let c = 0; c < 3; c++) {
      const n = nl + G[rng.uint() & 4095] * sig * chroma
      const j = i * 3 + c
      // Uint8Array stores clamp nothing: clamp, then round half up.
      const va = a[j] + n + 0.5
      const vb = b[j] + n + 0.5
      A[j] = va <= 0 ? 0 : va >= 255 ? 255 : va | 0
      B[j] = vb <= 0 ? 0 : vb >= 255 ? 255 : vb | 0
    }
  }
  const object = new Uint8Array(px)
  const occluders = new Uint8Array(px)
  const objectShadow = new Uint8Array(px)
  const occluderShadows = new Uint8Array(px)
  for (let i = 0; i < px; i++) {
    if (buf.objCov[i] >= 0.5) object[i] = 255
    else if (buf.occCov[i] >= 0.5) occluders[i] = 255
  }
  // The object-shadow mask is where the object takes away a visible part of the light: relative
  // darkening of at least SHADOW_RATIO, judged on light (before texture contrast, noise and
  // rounding), so the mask is a solid region like a hand-drawn one, not a speckle following the
  // texture. Outside it the shadow image is set equal to the no-shadow image (below).
  const raw = sc.u8
  raw.fill(0)
  for (let i = 0; i < px; i++) {
    if (object[i]) continue
    const j = 3 * i
    const no = buf.linNo[j] * 0.2126 + buf.linNo[j + 1] * 0.7152 + buf.linNo[j + 2] * 0.0722
    const sh = buf.linSh[j] * 0.2126 + buf.linSh[j + 1] * 0.7152 + buf.linSh[j + 2] * 0.0722
    if (no > 0 && 1 - sh / no >= SHADOW_RATIO) raw[i] = 1
  }
  // Drop isolated specks (sampling noise at the far edge of a penumbra).
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x
      if (!raw[i]) continue
      let nb = 0
      for (let oy = -1; oy <= 1; oy++) for (let ox = -1; ox <= 1; ox++) {
        if (!ox && !oy) continue
        const xx = x + ox, yy = y + oy
        if (xx >= 0 && yy >= 0 && xx < size && yy < size && raw[yy * size + xx]) nb++
      }
      if (nb >= 2) objectShadow[i] = 255
    }
  }
  // Outside that mask the shadow image is the no-shadow image, exactly.
  for (let i = 0; i < px; i++) {
    if (!objectShadow[i]) {
      B[3 * i] = A[3 * i]
      B[3 * i + 1] = A[3 * i + 1]
      B[3 * i + 2] = A[3 * i + 2]
    }
    if (buf.occShadowCov[i] >= 0.5 && !object[i] && !occluders[i]) occluderShadows[i] = 255
  }
  let areaObj = 0, areaObjSh = 0, areaOcc = 0, areaOccSh = 0
  let border = 0
  for (let i = 0; i < px; i++) {
    if (object[i]) areaObj++
    if (objectShadow[i]) areaObjSh++
    if (occluders[i]) areaOcc++
    if (occluderShadows[i]) areaOccSh++
  }
  for (let k = 0; k < size; k++) {
    if (object[k] || object[(size - 1) * size + k] || object[k * size] || object[k * size + size - 1]) border++
  }
  const accepted = border === 0 && areaObj >= px * 0.003 && areaObjSh >= px * 0.0015
  const meta = buildMeta(scene, size, { object: areaObj, objectShadow: areaObjSh, occluders: areaOcc, occluderShadows: areaOccSh })
  const mono = (data: Uint8Array): RawImage => ({ width: size, height: size, channels: 1, data })
  return {
    accepted,
    noShadow: { width: size, height: size, channels: 3, data: A },
    shadow: { width: size, height: size, channels: 3, data: B },
    object: mono(object),
    objectShadow: mono(objectShadow),
    occluders: mono(occluders),
    occluderShadows: mono(occluderShadows),
    meta,
  }
}

function round3(v: V3): V3 {
  return v.map((x) => Math.round(x * 1e4) / 1e4) as V3
}

function buildMeta(scene: Scene, size: number, areas: PairMeta['areas']): PairMeta {
  const cam = scene.camera
  const L = scene.light.dir
  const obj = scene.entities[scene.objectIndex]
  const base = project(cam, size, obj.position)
  const toward: V3 = [obj.position[0] - L[0] * scene.scale * 0.5, 0, obj.position[2] - L[2] * scene.scale * 0.5]
  const tip = project(cam, size, toward)
  let sdir: [number, number] = [0, 0]
  if (base && tip) {
    const l = Math.hypot(tip.x - base.x, tip.y - base.y) || 1
    sdir = [Math.round(((tip.x - base.x) / l) * 1e4) / 1e4, Math.round(((tip.y - base.y) / l) * 1e4) / 1e4]
  }
  const describe = (e: Entity) => ({ kind: e.kind, height: Math.round(e.height * 1e4) / 1e4, position: round3(e.position), yaw: Math.round(e.yaw * 1e4) / 1e4 })
  return {
    generator: GENERATOR_VERSION,
    seed: scene.seed,
    attempt: scene.attempt,
    size,
    light: {
      setting: scene.light.setting,
      azimuthDeg: Math.round(scene.light.azimuthDeg * 100) / 100,
      elevationDeg: Math.round(scene.light.elevationDeg * 100) / 100,
      angularRadiusDeg: Math.round(((scene.light.radius * 180) / Math.PI) * 1000) / 1000,
      direction: round3(L),
      directionCamera: round3([dot(L, cam.right), dot(L, cam.up), dot(L, cam.forward)]),
      shadowDirectionImage: sdir,
      sunRgb: round3(scene.light.sun),
      skyRgb: round3(scene.light.sky),
    },
    camera: {
      position: round3(cam.position),
      pitchDeg: Math.round(cam.pitchDeg * 100) / 100,
      rollDeg: Math.round(cam.rollDeg * 100) / 100,
      fovDeg: Math.round(cam.fovDeg * 100) / 100,
      heightOverObject: Math.round((cam.position[1] / scene.scale) * 1000) / 1000,
    },
    object: describe(obj),
    occluders: scene.entities.filter((e) => e.role === 'occluder').map(describe),
    environment: { wall: !!scene.wall, step: scene.entities.some((e) => e.kind === 'step'), backdrop: !!scene.backdrop },
    textures: scene.textureNames,
    post: scene.post,
    areas,
  }
}

/** Renders one scene as it stands (no rejection). */
export function renderScene(scene: Scene, size: number, textures: TextureSet, sunSamples = 8): RenderedPair & { accepted: boolean } {
  const t0 = TIMING ? performance.now() : 0
  const buf = traceScene(scene, size, textures, sunSamples)
  const t1 = TIMING ? performance.now() : 0
  const r = finish(scene, size, buf)
  if (TIMING) console.error(`trace ${(t1 - t0).toFixed(1)} ms, finish ${(performance.now() - t1).toFixed(1)} ms`)
  return r
}

/**
 * Renders the pair for `seed`: draws a scene, renders it, and redraws (deterministically) if the
 * object leaves the frame or casts no visible shadow, up to `maxAttempts` times.
 */
export function renderPair(seed: number, options: RenderOptions): RenderedPair {
  const size = options.size
  const ns = options.sunSamples ?? 8
  const attempts = options.maxAttempts ?? 8
  let last: Finished | null = null
  for (let attempt = 0; attempt < attempts; attempt++) {
    let scene = generateScene(seed, attempt, { size, textures: options.textures })
    if (options.lightOverride) {
      const { azimuthDeg, elevationDeg, radiusDeg } = options.lightOverride
      const el = (elevationDeg * Math.PI) / 180
      const az = (azimuthDeg * Math.PI) / 180
      scene.light.dir = [Math.cos(el) * Math.sin(az), Math.sin(el), Math.cos(el) * Math.cos(az)]
      scene.light.azimuthDeg = azimuthDeg
      scene.light.elevationDeg = elevationDeg
      if (radiusDeg !== undefined) scene.light.radius = (radiusDeg * Math.PI) / 180
    }
    if (options.sceneOverride) scene = options.sceneOverride(scene)
    // A cheap low-resolution render decides whether the scene is usable before paying for the full one.
    const lastTry = attempt === attempts - 1
    if (!lastTry && size > 96 && !renderScene(scene, Math.max(64, size >> 2), options.textures, 4).accepted) continue
    last = renderScene(scene, size, options.textures, ns)
    if (last.accepted) break
  }
  const { accepted: _accepted, ...pair } = last as Finished
  return pair
}
