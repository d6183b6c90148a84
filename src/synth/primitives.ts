/**
 * Analytic ray intersection with the shapes scenes are built from. Each primitive lives in its own
 * local frame (origin + rotation); rays are moved into that frame, intersected with a canonical shape,
 * and normals are moved back. Directions are unit length, so t is the same in both frames.
 */

const EPS = 1e-7

/** A rotation given by the world directions of the local x, y and z axes (orthonormal). */
export interface Frame {
  origin: [number, number, number]
  x: [number, number, number]
  y: [number, number, number]
  z: [number, number, number]
}

export function frameYaw(origin: [number, number, number], yaw: number): Frame {
  const c = Math.cos(yaw)
  const s = Math.sin(yaw)
  return { origin, x: [c, 0, -s], y: [0, 1, 0], z: [s, 0, c] }
}

/** A frame whose local y axis points along `axis` (any length), with `yaw` choosing the roll around it. */
export function frameAlong(origin: [number, number, number], axis: [number, number, number], yaw = 0): Frame {
  const l = Math.hypot(axis[0], axis[1], axis[2])
  const y: [number, number, number] = [axis[0] / l, axis[1] / l, axis[2] / l]
  // Any vector not parallel to y, turned by yaw in the ground plane.
  let h: [number, number, number] = [Math.cos(yaw), 0, Math.sin(yaw)]
  if (Math.abs(h[0] * y[0] + h[2] * y[2]) > 0.95) h = [0, 1, 0]
  // z = normalize(h x y), x = y x z
  let z: [number, number, number] = [h[1] * y[2] - h[2] * y[1], h[2] * y[0] - h[0] * y[2], h[0] * y[1] - h[1] * y[0]]
  const zl = Math.hypot(z[0], z[1], z[2])
  z = [z[0] / zl, z[1] / zl, z[2] / zl]
  const x: [number, number, number] = [y[1] * z[2] - y[2] * z[1], y[2] * z[0] - y[0] * z[2], y[0] * z[1] - y[1] * z[0]]
  return { origin, x, y, z }
}

export type PrimitiveKind = 'sphere' | 'box' | 'cylinder' | 'cone' | 'capsule' | 'torus' | 'extrusion'

export abstract class Primitive {
  abstract readonly kind: PrimitiveKind
  /** Index into the owning entity's materials. */
  material = 0
  // Frame, unpacked for speed.
  readonly ox: number
  readonly oy: number
  readonly oz: number
  readonly ax: number
  readonly ay: number
  readonly az: number
  readonly bx: number
  readonly by: number
  readonly bz: number
  readonly cx: number
  readonly cy: number
  readonly cz: number
  /** World bounding sphere (centre, radius). */
  sx = 0
  sy = 0
  sz = 0
  sr = 0

  constructor(readonly frame: Frame) {
    ;[this.ox, this.oy, this.oz] = frame.origin
    ;[this.ax, this.ay, this.az] = frame.x
    ;[this.bx, this.by, this.bz] = frame.y
    ;[this.cx, this.cy, this.cz] = frame.z
  }

  /** Local axis-aligned bounds [minx, miny, minz, maxx, maxy, maxz]. */
  abstract localBounds(): [number, number, number, number, number, number]
  protected abstract hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number
  protected abstract normalLocal(x: number, y: number, z: number, out: Float64Array): void

  /** Call once after construction: computes the world bounding sphere from the local bounds. */
  finish(): this {
    const [x0, y0, z0, x1, y1, z1] = this.localBounds()
    const mx = (x0 + x1) / 2
    const my = (y0 + y1) / 2
    const mz = (z0 + z1) / 2
    const w = this.toWorld(mx, my, mz)
    this.sx = w[0]
    this.sy = w[1]
    this.sz = w[2]
    this.sr = Math.hypot(x1 - x0, y1 - y0, z1 - z0) / 2 + 1e-6
    return this
  }

  toWorld(x: number, y: number, z: number): [number, number, number] {
    return [
      this.ox + x * this.ax + y * this.bx + z * this.cx,
      this.oy + x * this.ay + y * this.by + z * this.cy,
      this.oz + x * this.az + y * this.bz + z * this.cz,
    ]
  }

  /** World-space corners of the local bounds (for screen-space culling). */
  corners(): [number, number, number][] {
    const [x0, y0, z0, x1, y1, z1] = this.localBounds()
    const out: [number, number, number][] = []
    for (const x of [x0, x1]) for (const y of [y0, y1]) for (const z of [z0, z1]) out.push(this.toWorld(x, y, z))
    return out
  }

  /** Nearest hit distance in (eps, tMax), or Infinity. (px,py,pz) ray origin, (dx,dy,dz) unit direction. */
  hit(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    // Bounding-sphere reject first: most rays miss most primitives.
    const vx = this.sx - px
    const vy = this.sy - py
    const vz = this.sz - pz
    const b = vx * dx + vy * dy + vz * dz
    const c = vx * vx + vy * vy + vz * vz - this.sr * this.sr
    if (c > 0 && b < 0) return Infinity
    if (b * b - c < 0) return Infinity
    if (b - Math.sqrt(Math.max(0, b * b - c)) > tMax) return Infinity
    return this.hitNoCull(px, py, pz, dx, dy, dz, tMax)
  }

  /** As hit(), for callers that already tested the bounding sphere. */
  hitNoCull(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    const rx = px - this.ox
    const ry = py - this.oy
    const rz = pz - this.oz
    return this.hitLocal(
      rx * this.ax + ry * this.ay + rz * this.az,
      rx * this.bx + ry * this.by + rz * this.bz,
      rx * this.cx + ry * this.cy + rz * this.cz,
      dx * this.ax + dy * this.ay + dz * this.az,
      dx * this.bx + dy * this.by + dz * this.bz,
      dx * this.cx + dy * this.cy + dz * this.cz,
      tMax,
    )
  }

  /**
   * Unit world normal at a world point on the surface into out[0..2]; also writes the local
   * coordinates to out[3..5] and the local normal to out[6..8] (for texture mapping).
   */
  normal(wx: number, wy: number, wz: number, out: Float64Array): void {
    const rx = wx - this.ox
    const ry = wy - this.oy
    const rz = wz - this.oz
    const lx = rx * this.ax + ry * this.ay + rz * this.az
    const ly = rx * this.bx + ry * this.by + rz * this.bz
    const lz = rx * this.cx + ry * this.cy + rz * this.cz
    this.normalLocal(lx, ly, lz, out)
    const nx = out[0]
    const ny = out[1]
    const nz = out[2]
    out[6] = nx
    out[7] = ny
    out[8] = nz
    let x = nx * this.ax + ny * this.bx + nz * this.cx
    let y = nx * this.ay + ny * this.by + nz * this.cy
    let z = nx * this.az + ny * this.bz + nz * this.cz
    const l = Math.sqrt(x * x + y * y + z * z) || 1
    x /= l
    y /= l
    z /= l
    out[0] = x
    out[1] = y
    out[2] = z
    out[3] = lx
    out[4] = ly
    out[5] = lz
  }

  /** Spheres that roughly fill the shape, for the ambient-occlusion estimate. [x,y,z,r] world. */
  abstract aoSpheres(): [number, number, number, number][]
}

function nearestPositive(t1: number, t2: number, tMax: number): number {
  if (t1 > EPS && t1 < tMax) return t1
  if (t2 > EPS && t2 < tMax) return t2
  return Infinity
}

/** Spheres along a local segment, for AO of elongated shapes. */
function spheresAlong(p: Primitive, a: [number, number, number], b: [number, number, number], r: number): [number, number, number, number][] {
  const len = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2])
  const n = Math.max(1, Math.min(8, Math.round(len / (1.5 * r))))
  const out: [number, number, number, number][] = []
  for (let i = 0; i < n; i++) {
    const f = (i + 0.5) / n
    const w = p.toWorld(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f)
    out.push([w[0], w[1], w[2], Math.min(r, len / 2 + r * 0.5)])
  }
  return out
}

export class Sphere extends Primitive {
  readonly kind = 'sphere'
  constructor(
    frame: Frame,
    readonly r: number,
  ) {
    super(frame)
  }
  localBounds(): [number, number, number, number, number, number] {
    return [-this.r, -this.r, -this.r, this.r, this.r, this.r]
  }
  protected hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    const b = px * dx + py * dy + pz * dz
    const c = px * px + py * py + pz * pz - this.r * this.r
    const disc = b * b - c
    if (disc < 0) return Infinity
    const s = Math.sqrt(disc)
    return nearestPositive(-b - s, -b + s, tMax)
  }
  protected normalLocal(x: number, y: number, z: number, out: Float64Array): void {
    out[0] = x
    out[1] = y
    out[2] = z
  }
  aoSpheres(): [number, number, number, number][] {
    return [[this.sx, this.sy, this.sz, this.r]]
  }
}

/** Box centred on the local origin with half extents (hx, hy, hz). */
/** Scratch [t0, t1] for Box's slab test (one ray at a time: the renderer is single-threaded per worker). */
const SLAB_SPAN = new Float64Array(2)

/**
 * One axis of a slab test: narrows span [t0, t1] to the ray parameters where p + t d lies within
 * [-h, h]; false when a ray parallel to the slab lies outside it.
 */
function slab(p: number, d: number, h: number, span: Float64Array): boolean {
  if (Math.abs(d) < 1e-12) return p >= -h && p <= h
  const a = (-h - p) / d
  const b = (h - p) / d
  const near = a < b ? a : b
  const far = a < b ? b : a
  if (near > span[0]) span[0] = near
  if (far < span[1]) span[1] = far
  return true
}

export class Box extends Primitive {
  readonly kind = 'box'
  constructor(
    frame: Frame,
    readonly hx: number,
    readonly hy: number,
    readonly hz: number,
  ) {
    super(frame)
  }
  localBounds(): [number, number, number, number, number, number] {
    return [-this.hx, -this.hy, -this.hz, this.hx, this.hy, this.hz]
  }
  protected hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    // Slab test, axis by axis.
    const span = SLAB_SPAN
    span[0] = -Infinity
    span[1] = Infinity
    if (!slab(px, dx, this.hx, span) || !slab(py, dy, this.hy, span) || !slab(pz, dz, this.hz, span)) return Infinity
    const t0 = span[0]
    const t1 = span[1]
    if (t0 > t1) return Infinity
    return nearestPositive(t0, t1, tMax)
  }
  protected normalLocal(x: number, y: number, z: number, out: Float64Array): void {
    const fx = Math.abs(x) / this.hx
    const fy = Math.abs(y) / this.hy
    const fz = Math.abs(z) / this.hz
    out[0] = 0
    out[1] = 0
    out[2] = 0
    if (fx >= fy && fx >= fz) out[0] = Math.sign(x)
    else if (fy >= fz) out[1] = Math.sign(y)
    else out[2] = Math.sign(z)
  }
  aoSpheres(): [number, number, number, number][] {
    const e = [this.hx, this.hy, this.hz]
    const long = e.indexOf(Math.max(...e))
    const r = Math.min(...e) * 0.5 + (e[0] + e[1] + e[2] - Math.max(...e) - Math.min(...e)) * 0.5
    const a: [number, number, number] = [0, 0, 0]
    const b: [number, number, number] = [0, 0, 0]
    a[long] = -e[long] + Math.min(r, e[long])
    b[long] = e[long] - Math.min(r, e[long])
    return spheresAlong(this, a, b, r)
  }
}

/** Cone frustum along local y from y=0 (radius r0) to y=h (radius r1); r1 = r0 is a cylinder. Capped. */
export class Frustum extends Primitive {
  readonly kind: PrimitiveKind
  private readonly k: number
  constructor(
    frame: Frame,
    readonly r0: number,
    readonly r1: number,
    readonly h: number,
  ) {
    super(frame)
    this.kind = r0 === r1 ? 'cylinder' : 'cone'
    this.k = (r1 - r0) / h
  }
  localBounds(): [number, number, number, number, number, number] {
    const r = Math.max(this.r0, this.r1)
    return [-r, 0, -r, r, this.h, r]
  }
  protected hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    let best = tMax
    let found = false
    const k = this.k
    const q = this.r0 + k * py
    const a = dx * dx + dz * dz - k * k * dy * dy
    const b = px * dx + pz * dz - q * k * dy
    const c = px * px + pz * pz - q * q
    if (Math.abs(a) > 1e-12) {
      const disc = b * b - a * c
      if (disc >= 0) {
        const s = Math.sqrt(disc)
        const ta = (-b - s) / a
        const tb = (-b + s) / a
        for (let r = 0; r < 2; r++) {
          const t = r === 0 ? ta : tb
          if (t > EPS && t < best) {
            const y = py + t * dy
            if (y >= 0 && y <= this.h && q + k * t * dy >= 0) {
              best = t
              found = true
            }
          }
        }
      }
    } else if (Math.abs(b) > 1e-12) {
      const t = -c / (2 * b)
      const y = py + t * dy
      if (t > EPS && t < best && y >= 0 && y <= this.h) {
        best = t
        found = true
      }
    }
    if (Math.abs(dy) > 1e-12) {
      const tb = -py / dy
      if (tb > EPS && tb < best) {
        const x = px + tb * dx
        const z = pz + tb * dz
        if (x * x + z * z <= this.r0 * this.r0) {
          best = tb
          found = true
        }
      }
      const tt = (this.h - py) / dy
      if (tt > EPS && tt < best) {
        const x = px + tt * dx
        const z = pz + tt * dz
        if (x * x + z * z <= this.r1 * this.r1) {
          best = tt
          found = true
        }
      }
    }
    return found ? best : Infinity
  }
  protected normalLocal(x: number, y: number, z: number, out: Float64Array): void {
    const rr = Math.sqrt(x * x + z * z)
    const eps = 1e-4 * Math.max(this.h, this.r0, this.r1)
    if (y <= eps && rr < this.r0 - eps * 0.5) {
      out[0] = 0
      out[1] = -1
      out[2] = 0
    } else if (y >= this.h - eps && rr < this.r1 - eps * 0.5) {
      out[0] = 0
      out[1] = 1
      out[2] = 0
    } else {
      // Gradient of x^2 + z^2 - r(y)^2 on the surface (where |xz| = r(y)), scaled by 1/r.
      const inv = rr > 1e-12 ? 1 / rr : 0
      out[0] = x * inv
      out[1] = -this.k
      out[2] = z * inv
    }
  }
  aoSpheres(): [number, number, number, number][] {
    const r = (this.r0 + this.r1) / 2
    return spheresAlong(this, [0, Math.min(r, this.h / 2), 0], [0, this.h - Math.min(r, this.h / 2), 0], r)
  }
}

/** Capsule: segment on local y from y=0 to y=len, radius r (its round ends stick out by r). */
export class Capsule extends Primitive {
  readonly kind = 'capsule'
  constructor(
    frame: Frame,
    readonly r: number,
    readonly len: number,
  ) {
    super(frame)
  }
  localBounds(): [number, number, number, number, number, number] {
    return [-this.r, -this.r, -this.r, this.r, this.len + this.r, this.r]
  }
  protected hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    let best = tMax
    let found = false
    const r2 = this.r * this.r
    const a = dx * dx + dz * dz
    if (a > 1e-12) {
      const b = px * dx + pz * dz
      const c = px * px + pz * pz - r2
      const disc = b * b - a * c
      if (disc >= 0) {
        const t = (-b - Math.sqrt(disc)) / a
        const y = py + t * dy
        if (t > EPS && t < best && y >= 0 && y <= this.len) {
          best = t
          found = true
        }
      }
    }
    for (let end = 0; end < 2; end++) {
      const cy = end === 0 ? 0 : this.len
      const qy = py - cy
      const b = px * dx + qy * dy + pz * dz
      const c = px * px + qy * qy + pz * pz - r2
      const disc = b * b - c
      if (disc >= 0) {
        const t = -b - Math.sqrt(disc)
        if (t > EPS && t < best) {
          best = t
          found = true
        }
      }
    }
    return found ? best : Infinity
  }
  protected normalLocal(x: number, y: number, z: number, out: Float64Array): void {
    const cy = Math.max(0, Math.min(this.len, y))
    out[0] = x
    out[1] = y - cy
    out[2] = z
  }
  aoSpheres(): [number, number, number, number][] {
    return spheresAlong(this, [0, 0, 0], [0, this.len, 0], this.r)
  }
}

/** Torus around local y: ring radius R in the xz plane, tube radius r. Sphere-traced on its distance field. */
export class Torus extends Primitive {
  readonly kind = 'torus'
  constructor(
    frame: Frame,
    readonly R: number,
    readonly r: number,
  ) {
    super(frame)
  }
  localBounds(): [number, number, number, number, number, number] {
    const o = this.R + this.r
    return [-o, -this.r, -o, o, this.r, o]
  }
  protected hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    // Start where the ray enters the bounding sphere.
    const o = this.R + this.r
    const b = px * dx + py * dy + pz * dz
    const c = px * px + py * py + pz * pz - o * o
    const disc = b * b - c
    if (disc < 0) return Infinity
    const s = Math.sqrt(disc)
    let t = Math.max(EPS * 10, -b - s)
    const tEnd = Math.min(tMax, -b + s)
    const eps = 1e-4 * this.r
    for (let i = 0; i < 96 && t < tEnd; i++) {
      const x = px + t * dx
      const y = py + t * dy
      const z = pz + t * dz
      const qx = Math.sqrt(x * x + z * z) - this.R
      const d = Math.sqrt(qx * qx + y * y) - this.r
      if (d < eps) return t
      t += d
    }
    return Infinity
  }
  protected normalLocal(x: number, y: number, z: number, out: Float64Array): void {
    const l = Math.sqrt(x * x + z * z) || 1
    const qx = l - this.R
    out[0] = (qx * x) / l
    out[1] = y
    out[2] = (qx * z) / l
  }
  aoSpheres(): [number, number, number, number][] {
    const out: [number, number, number, number][] = []
    for (let i = 0; i < 8; i++) {
      const a = (i / 8) * Math.PI * 2
      const w = this.toWorld(Math.cos(a) * this.R, 0, Math.sin(a) * this.R)
      out.push([w[0], w[1], w[2], this.r])
    }
    return out
  }
}

/** A 2D polygon in local xy (counter-clockwise after construction) extruded along local z from -hz to hz. */
export class Extrusion extends Primitive {
  readonly kind = 'extrusion'
  readonly xs: Float64Array
  readonly ys: Float64Array
  private readonly bounds: [number, number, number, number, number, number]
  constructor(
    frame: Frame,
    points: [number, number][],
    readonly hz: number,
  ) {
    super(frame)
    let area = 0
    for (let i = 0; i < points.length; i++) {
      const [x0, y0] = points[i]
      const [x1, y1] = points[(i + 1) % points.length]
      area += x0 * y1 - x1 * y0
    }
    const pts = area < 0 ? [...points].reverse() : points
    this.xs = Float64Array.from(pts.map((p) => p[0]))
    this.ys = Float64Array.from(pts.map((p) => p[1]))
    this.bounds = [Math.min(...this.xs), Math.min(...this.ys), -hz, Math.max(...this.xs), Math.max(...this.ys), hz]
  }
  localBounds(): [number, number, number, number, number, number] {
    return this.bounds
  }
  private inside(x: number, y: number): boolean {
    let inside = false
    const xs = this.xs
    const ys = this.ys
    const n = xs.length
    for (let i = 0, j = n - 1; i < n; j = i++) {
      if (ys[i] > y !== ys[j] > y && x < ((xs[j] - xs[i]) * (y - ys[i])) / (ys[j] - ys[i]) + xs[i]) inside = !inside
    }
    return inside
  }
  protected hitLocal(px: number, py: number, pz: number, dx: number, dy: number, dz: number, tMax: number): number {
    let best = tMax
    let found = false
    if (Math.abs(dz) > 1e-12) {
      for (let side = 0; side < 2; side++) {
        const zc = side === 0 ? -this.hz : this.hz
        const t = (zc - pz) / dz
        if (t > EPS && t < best && this.inside(px + t * dx, py + t * dy)) {
          best = t
          found = true
        }
      }
    }
    const xs = this.xs
    const ys = this.ys
    const n = xs.length
    for (let i = 0; i < n; i++) {
      const j = i + 1 === n ? 0 : i + 1
      const ex = xs[j] - xs[i]
      const ey = ys[j] - ys[i]
      // Solve p + t d = a + s e in 2D.
      const den = dx * ey - dy * ex
      if (Math.abs(den) < 1e-14) continue
      const wx = xs[i] - px
      const wy = ys[i] - py
      const t = (wx * ey - wy * ex) / den
      if (t <= EPS || t >= best) continue
      const s = (wx * dy - wy * dx) / den
      if (s < 0 || s > 1) continue
      const z = pz + t * dz
      if (z < -this.hz || z > this.hz) continue
      best = t
      found = true
    }
    return found ? best : Infinity
  }
  protected normalLocal(x: number, y: number, z: number, out: Float64Array): void {
    const xs = this.xs
    const ys = this.ys
    const n = xs.length
    let bestD = Math.abs(Math.abs(z) - this.hz)
    out[0] = 0
    out[1] = 0
    out[2] = Math.sign(z) || 1
    for (let i = 0; i < n; i++) {
      const j = i + 1 === n ? 0 : i + 1
      const ex = xs[j] - xs[i]
      const ey = ys[j] - ys[i]
      const l2 = ex * ex + ey * ey
      const s = Math.max(0, Math.min(1, ((x - xs[i]) * ex + (y - ys[i]) * ey) / l2))
      const ddx = x - xs[i] - s * ex
      const ddy = y - ys[i] - s * ey
      const d = Math.sqrt(ddx * ddx + ddy * ddy)
      if (d < bestD) {
        bestD = d
        const l = Math.sqrt(l2)
        out[0] = ey / l
        out[1] = -ex / l
        out[2] = 0
      }
    }
  }
  aoSpheres(): [number, number, number, number][] {
    const [x0, y0, , x1, y1] = this.bounds
    const w = x1 - x0
    const h = y1 - y0
    const r = Math.min(w, h) * 0.35 + this.hz * 0.3
    if (h >= w) return spheresAlong(this, [(x0 + x1) / 2, y0 + r * 0.7, 0], [(x0 + x1) / 2, y1 - r * 0.7, 0], r)
    return spheresAlong(this, [x0 + r * 0.7, (y0 + y1) / 2, 0], [x1 - r * 0.7, (y0 + y1) / 2, 0], r)
  }
}
