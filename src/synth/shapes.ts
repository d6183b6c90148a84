/**
 * Builders for the things a scene holds: each makes the primitives of one object of a given height,
 * standing on the ground at a base point with a yaw. Kinds are chosen to cast the shadows that real
 * street and park photos hold (people, cars, animals, poles, bollards, furniture, bottles) plus plain solids.
 */
import { Box, Capsule, Extrusion, Frustum, Sphere, Torus, frameAlong, frameYaw, type Primitive, type Frame } from './primitives'
import type { Rng } from './random'

export const SHAPE_KINDS = [
  'person',
  'car',
  'animal',
  'pole',
  'bollard',
  'bottle',
  'chair',
  'table',
  'bench',
  'tree',
  'cone',
  'box',
  'sphere',
  'cylinder',
  'capsule',
  'torus',
  'silhouette',
  'hydrant',
  'sign',
] as const
export type ShapeKind = (typeof SHAPE_KINDS)[number]

/** How often each kind is drawn: people, cars, animals and poles dominate real shadow photos. */
export const SHAPE_WEIGHTS: Record<ShapeKind, number> = {
  person: 16,
  car: 7,
  animal: 6,
  pole: 5,
  bollard: 5,
  bottle: 3,
  chair: 4,
  table: 2,
  bench: 2,
  tree: 2,
  cone: 3,
  box: 5,
  sphere: 4,
  cylinder: 4,
  capsule: 3,
  torus: 2,
  silhouette: 5,
  hydrant: 2,
  sign: 2,
}

/** Typical heights in metres (the scene's unit), so that mixed objects keep believable proportions. */
export const SHAPE_HEIGHTS: Record<ShapeKind, [number, number]> = {
  person: [1.45, 1.95],
  car: [1.3, 1.8],
  animal: [0.35, 1.1],
  pole: [2.2, 5],
  bollard: [0.5, 1.1],
  bottle: [0.18, 0.4],
  chair: [0.75, 1.05],
  table: [0.65, 0.8],
  bench: [0.7, 0.9],
  tree: [2.5, 6],
  cone: [0.4, 0.9],
  box: [0.2, 1.2],
  sphere: [0.15, 0.9],
  cylinder: [0.2, 1.2],
  capsule: [0.3, 1.5],
  torus: [0.2, 0.9],
  silhouette: [0.4, 2],
  hydrant: [0.6, 0.9],
  sign: [1.8, 2.8],
}

export interface BuiltShape {
  prims: Primitive[]
  /** Number of materials the primitives refer to (material indices 0..n-1). */
  materials: number
}

type V3 = [number, number, number]

/** Places local offsets (x right, y up, z forward of the object) at a base point with a yaw. */
class Placement {
  private readonly c: number
  private readonly s: number
  constructor(
    readonly base: V3,
    readonly yaw: number,
  ) {
    this.c = Math.cos(yaw)
    this.s = Math.sin(yaw)
  }
  point(x: number, y: number, z: number): V3 {
    return [this.base[0] + x * this.c + z * this.s, this.base[1] + y, this.base[2] - x * this.s + z * this.c]
  }
  dir(x: number, y: number, z: number): V3 {
    return [x * this.c + z * this.s, y, -x * this.s + z * this.c]
  }
  frame(x: number, y: number, z: number, extraYaw = 0): Frame {
    return frameYaw(this.point(x, y, z), this.yaw + extraYaw)
  }
  /** Frame at a local point whose y axis runs along a local direction. */
  along(x: number, y: number, z: number, ax: number, ay: number, az: number): Frame {
    return frameAlong(this.point(x, y, z), this.dir(ax, ay, az), this.yaw)
  }
}

function withMaterial<T extends Primitive>(p: T, m: number): T {
  p.material = m
  return p.finish()
}

/** A capsule between two local points. */
function limb(pl: Placement, a: V3, b: V3, r: number, m: number): Capsule {
  const d: V3 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]]
  const len = Math.hypot(d[0], d[1], d[2])
  return withMaterial(new Capsule(pl.along(a[0], a[1], a[2], d[0], d[1], d[2]), r, len), m)
}

const SILHOUETTES: [number, number][][] = [
  // standing person, front view (unit height)
  [[-0.12, 0], [-0.05, 0], [-0.03, 0.42], [0.03, 0.42], [0.05, 0], [0.12, 0], [0.1, 0.5], [0.2, 0.55], [0.19, 0.8], [0.09, 0.82], [0.06, 0.86], [0.08, 0.93], [0.04, 1], [-0.04, 1], [-0.08, 0.93], [-0.06, 0.86], [-0.09, 0.82], [-0.19, 0.8], [-0.2, 0.55], [-0.1, 0.5]],
  // walking person, side view
  [[-0.2, 0], [-0.12, 0], [0, 0.35], [0.1, 0], [0.2, 0], [0.07, 0.48], [0.09, 0.8], [0.05, 0.86], [0.07, 0.94], [0.02, 1], [-0.05, 0.96], [-0.05, 0.86], [-0.08, 0.8], [-0.15, 0.55], [-0.05, 0.5]],
  // dog, side view
  [[-0.5, 0], [-0.42, 0], [-0.38, 0.4], [0.25, 0.4], [0.3, 0], [0.38, 0], [0.38, 0.55], [0.5, 0.75], [0.62, 0.72], [0.6, 0.9], [0.45, 1], [0.32, 0.8], [-0.4, 0.75], [-0.62, 0.95], [-0.65, 0.9], [-0.48, 0.68]],
  // chair, side view
  [[-0.25, 0], [-0.2, 0], [-0.2, 0.42], [0.2, 0.42], [0.2, 0], [0.25, 0], [0.25, 0.5], [-0.2, 0.5], [-0.2, 1], [-0.25, 1]],
  // street sign: post and plate
  [[-0.03, 0], [0.03, 0], [0.03, 0.65], [0.25, 0.65], [0.25, 1], [-0.25, 1], [-0.25, 0.65], [-0.03, 0.65]],
  // arch / gate
  [[-0.5, 0], [-0.3, 0], [-0.3, 0.6], [0.3, 0.6], [0.3, 0], [0.5, 0], [0.5, 1], [-0.5, 1]],
  // five-pointed star on a stem
  [[-0.03, 0], [0.03, 0], [0.03, 0.45], [0.11, 0.47], [0.3, 0.55], [0.16, 0.68], [0.19, 0.9], [0, 0.8], [-0.19, 0.9], [-0.16, 0.68], [-0.3, 0.55], [-0.11, 0.47], [-0.03, 0.45]],
  // L-shaped block
  [[-0.4, 0], [0.4, 0], [0.4, 0.35], [-0.1, 0.35], [-0.1, 1], [-0.4, 1]],
  // bird / animal on legs, side view
  [[-0.05, 0], [-0.02, 0], [0, 0.35], [0.25, 0.45], [0.35, 0.85], [0.45, 0.9], [0.5, 1], [0.3, 0.98], [0.22, 0.6], [-0.3, 0.6], [-0.45, 0.7], [-0.35, 0.45], [-0.06, 0.35]],
]

/** Builds one shape of kind `kind` and height `h` at `base` facing `yaw`. */
export function buildShape(kind: ShapeKind, h: number, base: V3, yaw: number, rng: Rng): BuiltShape {
  const pl = new Placement(base, yaw)
  const prims: Primitive[] = []
  let materials = 1
  switch (kind) {
    case 'person': {
      materials = 3 // 0 top, 1 trousers, 2 skin
      const legR = h * rng.range(0.035, 0.05)
      const hip = h * 0.48
      const stride = rng.chance(0.5) ? h * rng.range(0.05, 0.18) : 0
      const sx = h * 0.06
      prims.push(limb(pl, [-sx, legR, stride], [-sx * 0.8, hip, 0], legR, 1))
      prims.push(limb(pl, [sx, legR, -stride], [sx * 0.8, hip, 0], legR, 1))
      const torsoR = h * rng.range(0.075, 0.1)
      prims.push(limb(pl, [0, hip + torsoR * 0.3, 0], [0, h * 0.8 - torsoR * 0.6, 0], torsoR, 0))
      const armR = h * 0.03
      const swing = rng.range(-0.15, 0.15) * h
      const armOut = rng.chance(0.2) ? h * 0.25 : h * 0.03
      prims.push(limb(pl, [-torsoR - armR, h * 0.8, 0], [-torsoR - armR - armOut, h * 0.5, swing], armR, 0))
      prims.push(limb(pl, [torsoR + armR, h * 0.8, 0], [torsoR + armR + armOut * rng.range(0, 1), h * 0.5, -swing], armR, 0))
      prims.push(withMaterial(new Sphere(pl.frame(0, h * 0.915, 0), h * 0.065), 2))
      break
    }
    case 'car': {
      materials = 3 // 0 body, 1 windows/cabin, 2 tyres
      const len = h * rng.range(2.4, 3.0)
      const wid = h * rng.range(1.1, 1.3)
      const wheelR = h * rng.range(0.18, 0.22)
      const bodyH = h * rng.range(0.35, 0.45)
      const bodyY = wheelR * 0.8
      prims.push(withMaterial(new Box(pl.frame(0, bodyY + bodyH / 2, 0), wid / 2, bodyH / 2, len / 2), 0))
      const cabH = h - bodyY - bodyH
      const cabLen = len * rng.range(0.45, 0.6)
      prims.push(withMaterial(new Box(pl.frame(0, bodyY + bodyH + cabH / 2, -len * 0.05), wid * 0.45, cabH / 2, cabLen / 2), 1))
      for (const [wx, wz] of [[-1, -1], [1, -1], [-1, 1], [1, 1]]) {
        const x = (wx * wid) / 2 - wx * wheelR * 0.3
        prims.push(withMaterial(new Frustum(pl.along(x - wx * wheelR * 0.25, wheelR, (wz * len) / 2 - wz * wheelR * 1.6, wx, 0, 0), wheelR, wheelR, wheelR * 0.5), 2))
      }
      break
    }
    case 'animal': {
      materials = 1
      const bodyLen = h * rng.range(0.9, 1.4)
      const bodyR = h * rng.range(0.14, 0.2)
      const legLen = h * rng.range(0.4, 0.5)
      const legR = bodyR * 0.35
      const bodyY = legLen + bodyR * 0.5
      prims.push(limb(pl, [0, bodyY, -bodyLen / 2 + bodyR], [0, bodyY, bodyLen / 2 - bodyR], bodyR, 0))
      for (const [lx, lz] of [[-1, -1], [1, -1], [-1, 1], [1, 1]]) {
        prims.push(limb(pl, [lx * bodyR * 0.55, legR, lz * (bodyLen / 2 - bodyR * 1.2)], [lx * bodyR * 0.5, bodyY, lz * (bodyLen / 2 - bodyR * 1.2)], legR, 0))
      }
      const headR = bodyR * rng.range(0.7, 0.95)
      prims.push(limb(pl, [0, bodyY + bodyR * 0.5, bodyLen / 2 - bodyR * 0.5], [0, h - headR, bodyLen / 2 + headR * 0.4], bodyR * 0.45, 0))
      prims.push(withMaterial(new Sphere(pl.frame(0, h - headR, bodyLen / 2 + headR * 0.6), headR), 0))
      if (rng.chance(0.7)) prims.push(limb(pl, [0, bodyY + bodyR * 0.3, -bodyLen / 2 + bodyR * 0.3], [0, bodyY + bodyR * 1.5, -bodyLen / 2 - bodyR * 1.2], bodyR * 0.18, 0))
      break
    }
    case 'pole': {
      materials = 2
      const r = h * rng.range(0.008, 0.02)
      prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), r * 1.15, r, h * 0.92), 0))
      const top = rng.int(0, 2)
      if (top === 0) prims.push(withMaterial(new Sphere(pl.frame(0, h * 0.95, 0), h * 0.05), 1))
      else if (top === 1) prims.push(withMaterial(new Box(pl.frame(0, h * 0.88, 0), h * 0.1, h * 0.07, r * 0.6), 1))
      else prims.push(limb(pl, [0, h * 0.92, 0], [h * 0.2, h * 0.97, 0], r * 0.8, 0))
      break
    }
    case 'bollard': {
      materials = 2
      const r = h * rng.range(0.12, 0.22)
      const body = h - (rng.chance(0.5) ? r : 0)
      prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), r * rng.range(1, 1.1), r, body), 0))
      if (body < h) prims.push(withMaterial(new Sphere(pl.frame(0, body, 0), r), 1))
      else prims.push(withMaterial(new Frustum(pl.frame(0, body * 0.8, 0), r * 1.02, r * 1.02, body * 0.08), 1))
      break
    }
    case 'bottle': {
      materials = 2
      const r = h * rng.range(0.14, 0.2)
      const bodyH = h * rng.range(0.55, 0.7)
      const neckR = r * rng.range(0.3, 0.4)
      const shoulderH = h * 0.15
      prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), r, r, bodyH), 0))
      prims.push(withMaterial(new Frustum(pl.frame(0, bodyH, 0), r, neckR, shoulderH), 0))
      prims.push(withMaterial(new Frustum(pl.frame(0, bodyH + shoulderH, 0), neckR, neckR, h - bodyH - shoulderH), 1))
      break
    }
    case 'chair': {
      materials = 2
      const w = h * rng.range(0.45, 0.55)
      const seatY = h * rng.range(0.45, 0.52)
      const legR = h * 0.02
      const t = h * 0.03
      prims.push(withMaterial(new Box(pl.frame(0, seatY, 0), w / 2, t, w / 2), 0))
      for (const [lx, lz] of [[-1, -1], [1, -1], [-1, 1], [1, 1]]) prims.push(withMaterial(new Box(pl.frame((lx * w) / 2 - lx * legR, (seatY - t) / 2, (lz * w) / 2 - lz * legR), legR, (seatY - t) / 2, legR), 1))
      const backH = h - seatY
      prims.push(withMaterial(new Box(pl.frame(0, seatY + backH / 2 + t, -w / 2 + t), w / 2, backH / 2 - t, t), 0))
      break
    }
    case 'table': {
      materials = 2
      const w = h * rng.range(1, 1.8)
      const d = h * rng.range(0.8, 1.2)
      const t = h * 0.04
      const legR = h * 0.03
      prims.push(withMaterial(new Box(pl.frame(0, h - t, 0), w / 2, t, d / 2), 0))
      for (const [lx, lz] of [[-1, -1], [1, -1], [-1, 1], [1, 1]]) prims.push(withMaterial(new Box(pl.frame((lx * w) / 2 - lx * legR * 2, (h - 2 * t) / 2, (lz * d) / 2 - lz * legR * 2), legR, (h - 2 * t) / 2, legR), 1))
      break
    }
    case 'bench': {
      materials = 2
      const w = h * rng.range(1.8, 2.6)
      const seatY = h * 0.55
      const t = h * 0.04
      const d = h * 0.5
      prims.push(withMaterial(new Box(pl.frame(0, seatY, 0), w / 2, t, d / 2), 0))
      prims.push(withMaterial(new Box(pl.frame(0, h * 0.82, -d / 2), w / 2, h * 0.14, t), 0))
      for (const lx of [-1, 1]) prims.push(withMaterial(new Box(pl.frame(lx * (w / 2 - h * 0.1), (seatY - t) / 2, 0), h * 0.04, (seatY - t) / 2, d / 2 - t), 1))
      break
    }
    case 'tree': {
      materials = 2
      const trunkR = h * rng.range(0.025, 0.05)
      const trunkH = h * rng.range(0.35, 0.6)
      prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), trunkR * 1.3, trunkR, trunkH + h * 0.1), 0))
      const crownR = (h - trunkH) * 0.5
      const n = rng.int(1, 4)
      for (let i = 0; i < n; i++) {
        const r = crownR * (i === 0 ? 1 : rng.range(0.5, 0.8))
        const ox = i === 0 ? 0 : rng.range(-0.6, 0.6) * crownR
        const oz = i === 0 ? 0 : rng.range(-0.6, 0.6) * crownR
        prims.push(withMaterial(new Sphere(pl.frame(ox, Math.min(h - r, trunkH + crownR + rng.range(-0.2, 0.3) * crownR), oz), r), 1))
      }
      break
    }
    case 'cone': {
      materials = 2
      const r = h * rng.range(0.2, 0.35)
      prims.push(withMaterial(new Box(pl.frame(0, h * 0.02, 0), r * 1.3, h * 0.02, r * 1.3), 1))
      prims.push(withMaterial(new Frustum(pl.frame(0, h * 0.04, 0), r, r * rng.range(0, 0.15), h * 0.96), 0))
      break
    }
    case 'box': {
      const w = h * rng.logRange(0.4, 2.5)
      const d = h * rng.logRange(0.4, 2.5)
      prims.push(withMaterial(new Box(pl.frame(0, h / 2, 0), w / 2, h / 2, d / 2), 0))
      break
    }
    case 'sphere': {
      prims.push(withMaterial(new Sphere(pl.frame(0, h / 2, 0), h / 2), 0))
      break
    }
    case 'cylinder': {
      const r = h * rng.logRange(0.1, 0.8)
      if (rng.chance(0.25)) {
        // lying on its side, like a log or a barrel
        const len = h * rng.range(1.5, 4)
        prims.push(withMaterial(new Frustum(pl.along(-len / 2, h / 2, 0, 1, 0, 0), h / 2, h / 2, len), 0))
      } else prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), r, r, h), 0))
      break
    }
    case 'capsule': {
      const r = h * rng.range(0.1, 0.3)
      prims.push(withMaterial(new Capsule(pl.frame(0, r, 0), r, h - 2 * r), 0))
      break
    }
    case 'torus': {
      const tube = rng.range(0.12, 0.3)
      if (rng.chance(0.6)) {
        // standing like a tyre: total height h = 2 (R + r)
        const R = h / 2 / (1 + tube)
        prims.push(withMaterial(new Torus(pl.along(0, R * (1 + tube), 0, 1, 0, 0), R, R * tube), 0))
      } else {
        const R = h / (2 * tube)
        const Rc = Math.min(R, h * 3)
        prims.push(withMaterial(new Torus(pl.frame(0, h / 2, 0), Rc, h / 2), 0))
      }
      break
    }
    case 'silhouette': {
      const poly = rng.pick(SILHOUETTES)
      const width = h * rng.range(0.8, 1.2)
      const pts = poly.map(([x, y]) => [x * width, y * h] as [number, number])
      const thick = h * rng.range(0.03, 0.25)
      prims.push(withMaterial(new Extrusion(pl.frame(0, 0, 0), pts, thick / 2), 0))
      break
    }
    case 'hydrant': {
      materials = 1
      const r = h * 0.16
      prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), r * 1.3, r * 1.3, h * 0.08), 0))
      prims.push(withMaterial(new Frustum(pl.frame(0, h * 0.08, 0), r, r, h * 0.7), 0))
      prims.push(withMaterial(new Sphere(pl.frame(0, h * 0.78, 0), r), 0))
      prims.push(limb(pl, [-r * 1.6, h * 0.55, 0], [r * 1.6, h * 0.55, 0], r * 0.35, 0))
      break
    }
    case 'sign': {
      materials = 2
      const r = h * 0.012
      prims.push(withMaterial(new Frustum(pl.frame(0, 0, 0), r, r, h * 0.8), 1))
      const plate = h * rng.range(0.12, 0.2)
      if (rng.chance(0.5)) prims.push(withMaterial(new Frustum(pl.along(0, h - plate, -r, 0, 0, 1), plate, plate, r * 1.5), 0))
      else prims.push(withMaterial(new Box(pl.frame(0, h - plate, r * 2), plate, plate, r * 0.8), 0))
      break
    }
  }
  return { prims, materials }
}
