import type { RawImage } from '../core/image'

/**
 * Baselines the model is measured against (`umbra eval --baseline ...`).
 *
 * identity: no shadow added (prediction = the shadow-free photo).
 *
 * geometric: the classic hand-made shadow. The object's silhouette is projected onto the ground
 * along a light direction, softened with distance from the object's foot, and darkens the ground
 * by a ratio:
 *   - the ground line is the object's lowest row; a silhouette pixel h rows above it lands at
 *     (x + h*kx, foot + h*ky), k = the shadow displacement per unit of height in image pixels;
 *   - k is estimated from the scene's occluders and their shadows: for each occluder-shadow
 *     component, the nearest occluder's foot point and height give k = (shadow centroid - foot) / (height/2)
 *     (the centroid of a projected silhouette lies at half its height), averaged weighted by shadow area;
 *   - the darkening ratio per channel is measured in those occluder shadows: median(inside) /
 *     median(a ring just outside them), on the shadow-free photo (occluder shadows are in it);
 *   - with no occluder shadows in the scene it falls back to a short shadow slightly to the right and
 *     toward the viewer with 45% darkening: conservative, since misplaced dark pixels cost error.
 */
export type BaselineName = 'identity' | 'geometric'
export const BASELINES: BaselineName[] = ['identity', 'geometric']

export interface GeometricEstimate {
  /** Shadow displacement per pixel of object height (image x right, y down). */
  k: [number, number]
  /** Darkening per channel d (composite = rgb * (1 - d * softMask)). */
  darkening: [number, number, number]
  /** True when k and d came from the scene's occluder shadows, false for the defaults. */
  fromScene: boolean
}

export const DEFAULT_LIGHT: Omit<GeometricEstimate, 'fromScene'> = { k: [0.3, 0.1], darkening: [0.45, 0.45, 0.45] }

function isOn(mask: RawImage, i: number): boolean {
  return mask.data[i * mask.channels] > 0
}

export interface Component {
  pixels: number[]
  area: number
  cx: number
  cy: number
  x0: number
  x1: number
  y0: number
  y1: number
}

/** 8-connected components of a mask (iterative flood fill). */
export function connectedComponents(mask: RawImage, minArea = 1): Component[] {
  const { width, height } = mask
  const seen = new Uint8Array(width * height)
  const out: Component[] = []
  const stack: number[] = []
  for (let start = 0; start < width * height; start++) {
    if (seen[start] || !isOn(mask, start)) continue
    const pixels: number[] = []
    stack.push(start)
    seen[start] = 1
    while (stack.length) {
      const i = stack.pop() as number
      pixels.push(i)
      const x = i % width, y = (i / width) | 0
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx, yy = y + dy
          if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue
          const j = yy * width + xx
          if (!seen[j] && isOn(mask, j)) {
            seen[j] = 1
            stack.push(j)
          }
        }
      }
    }
    if (pixels.length < minArea) continue
    let sx = 0, sy = 0, x0 = width, x1 = 0, y0 = height, y1 = 0
    for (const i of pixels) {
      const x = i % width, y = (i / width) | 0
      sx += x
      sy += y
      x0 = Math.min(x0, x)
      x1 = Math.max(x1, x)
      y0 = Math.min(y0, y)
      y1 = Math.max(y1, y)
    }
    out.push({ pixels, area: pixels.length, cx: sx / pixels.length, cy: sy / pixels.length, x0, x1, y0, y1 })
  }
  return out
}

/** Foot point: the mean x of the lowest few rows, at the lowest row. */
export function footPoint(c: Component, width: number): [number, number] {
  const band = Math.max(1, Math.round((c.y1 - c.y0 + 1) * 0.1))
  let sx = 0, n = 0
  for (const i of c.pixels) {
    const y = (i / width) | 0
    if (y > c.y1 - band) {
      sx += i % width
      n++
    }
  }
  return [sx / Math.max(1, n), c.y1]
}

function median(values: number[]): number {
  if (values.length === 0) return NaN
  const s = [...values].sort((a, b) => a - b)
  return s[s.length >> 1]
}

/** Light direction and darkening from the occluders and their shadows (defaults when there are none). */
export function estimateLight(noShadow: RawImage, occluders: RawImage, occluderShadows: RawImage): GeometricEstimate {
  const { width, height } = noShadow
  const minArea = Math.max(6, Math.round(width * height * 0.0005))
  const occ = connectedComponents(occluders, minArea)
  const shadows = connectedComponents(occluderShadows, minArea)
  let kx = 0, ky = 0, wsum = 0
  for (const s of shadows) {
    let best: Component | null = null
    let bestDist = Infinity
    for (const o of occ) {
      // distance from the shadow's centroid to the occluder's box
      const dx = Math.max(o.x0 - s.cx, 0, s.cx - o.x1)
      const dy = Math.max(o.y0 - s.cy, 0, s.cy - o.y1)
      const d = Math.hypot(dx, dy)
      if (d < bestDist) {
        bestDist = d
        best = o
      }
    }
    if (!best) continue
    const h = best.y1 - best.y0 + 1
    if (h < 3) continue
    const [fx, fy] = footPoint(best, width)
    const vx = (s.cx - fx) / (h / 2)
    const vy = (s.cy - fy) / (h / 2)
    kx += vx * s.area
    ky += vy * s.area
    wsum += s.area
  }

  // Darkening ratio measured where occluder shadows are, against a ring just outside them.
  let darkening: [number, number, number] = [...DEFAULT_LIGHT.darkening]
  let measured = false
  if (shadows.length > 0) {
    const n = width * height
    const inside: number[][] = [[], [], []]
    const ring: number[][] = [[], [], []]
    const r = Math.max(2, Math.round(width / 64))
    for (let i = 0; i < n; i++) {
      const x = i % width, y = (i / width) | 0
      if (isOn(occluders, i)) continue
      if (isOn(occluderShadows, i)) {
        // only pixels well inside the shadow (skip the soft edge)
        let interior = true
        for (let d = -1; d <= 1 && interior; d += 2) {
          const xx = Math.min(width - 1, Math.max(0, x + d)), yy = Math.min(height - 1, Math.max(0, y + d))
          if (!isOn(occluderShadows, y * width + xx) || !isOn(occluderShadows, yy * width + x)) interior = false
        }
        if (interior) for (let c = 0; c < 3; c++) inside[c].push(noShadow.data[i * noShadow.channels + c])
        continue
      }
      // within r pixels of a shadow pixel?
      let near = false
      for (let dy = -r; dy <= r && !near; dy += r) {
        for (let dx = -r; dx <= r && !near; dx += r) {
          const xx = x + dx, yy = y + dy
          if (xx >= 0 && yy >= 0 && xx < width && yy < height && isOn(occluderShadows, yy * width + xx)) near = true
        }
      }
      if (near) for (let c = 0; c < 3; c++) ring[c].push(noShadow.data[i * noShadow.channels + c])
    }
    if (inside[0].length >= 10 && ring[0].length >= 10) {
      const d = [0, 1, 2].map((c) => {
        const lit = median(ring[c])
        return lit > 8 ? Math.min(0.85, Math.max(0.1, 1 - median(inside[c]) / lit)) : DEFAULT_LIGHT.darkening[c]
      })
      darkening = [d[0], d[1], d[2]]
      measured = true
    }
  }

  if (wsum === 0) return { k: [...DEFAULT_LIGHT.k], darkening, fromScene: measured }
  let k: [number, number] = [kx / wsum, ky / wsum]
  const len = Math.hypot(k[0], k[1])
  if (len > 2.5) k = [(k[0] / len) * 2.5, (k[1] / len) * 2.5]
  return { k, darkening, fromScene: true }
}

/** Box blur (3 passes approximate a Gaussian of sigma ~ radius). */
function blur(src: Float32Array, width: number, height: number, radius: number): Float32Array {
  if (radius < 0.5) return src
  const r = Math.max(1, Math.round(radius))
  let a = src
  for (let pass = 0; pass < 3; pass++) {
    const tmp = new Float32Array(width * height)
    for (let y = 0; y < height; y++) {
      let acc = 0
      for (let x = -r; x <= r; x++) acc += a[y * width + Math.min(width - 1, Math.max(0, x))]
      for (let x = 0; x < width; x++) {
        tmp[y * width + x] = acc / (2 * r + 1)
        acc += a[y * width + Math.min(width - 1, x + r + 1)] - a[y * width + Math.max(0, x - r)]
      }
    }
    const out = new Float32Array(width * height)
    for (let x = 0; x < width; x++) {
      let acc = 0
      for (let y = -r; y <= r; y++) acc += tmp[Math.min(height - 1, Math.max(0, y)) * width + x]
      for (let y = 0; y < height; y++) {
        out[y * width + x] = acc / (2 * r + 1)
        acc += tmp[Math.min(height - 1, y + r + 1) * width + x] - tmp[Math.max(0, y - r) * width + x]
      }
    }
    a = out
  }
  return a
}

/**
 * The soft shadow matte (0..1 per pixel) of the object projected with `k`: forward mapping of the
 * silhouette, supersampled so a stretched projection (|k| > 1) leaves no holes.
 */
export function projectedShadowMatte(object: RawImage, k: [number, number]): Float32Array {
  return projectSilhouette(object.width, object.height, (i) => isOn(object, i), k)
}

/**
 * projectedShadowMatte for any silhouette: `isObject(i)` says whether pixel i (row-major) is the
 * object. The ground line is the object's lowest row; a pixel h rows above it lands at
 * (x + h*kx, foot + h*ky), and the matte softens with that height (a penumbra grows with the
 * distance to the occluding point).
 */
export function projectSilhouette(width: number, height: number, isObject: (i: number) => boolean, k: [number, number]): Float32Array {
  const n = width * height
  const matte = new Float32Array(n)
  const heightOf = new Float32Array(n)
  let y0 = height, foot = -1
  for (let i = 0; i < n; i++) {
    if (isObject(i)) {
      const y = (i / width) | 0
      y0 = Math.min(y0, y)
      foot = Math.max(foot, y)
    }
  }
  if (foot < 0) return matte
  const objH = foot - y0 + 1
  // A shadow seen exactly edge-on has no area: keep a vertical component of at least 0.05 (sign kept).
  const ky = Math.abs(k[1]) < 0.05 ? (k[1] < 0 ? -0.05 : 0.05) : k[1]
  const kx = k[0]
  const sub = Math.min(8, Math.max(1, Math.ceil(Math.max(Math.abs(kx), Math.abs(ky)) * 2)))
  for (let i = 0; i < n; i++) {
    if (!isObject(i)) continue
    const x = i % width, y = (i / width) | 0
    for (let a = 0; a < sub; a++) {
      for (let b = 0; b < sub; b++) {
        const sx = x + (b + 0.5) / sub - 0.5
        const sy = y + (a + 0.5) / sub - 0.5
        const h = Math.max(0, foot - sy)
        const tx = Math.round(sx + h * kx)
        const ty = Math.round(foot + h * ky)
        if (tx < 0 || ty < 0 || tx >= width || ty >= height) continue
        const j = ty * width + tx
        if (!matte[j] || h < heightOf[j]) heightOf[j] = h
        matte[j] = 1
      }
    }
  }
  const sharp = blur(matte, width, height, 1)
  const soft = blur(matte, width, height, Math.max(2, 0.06 * objH * Math.hypot(kx, ky)))
  const smoothH = blur(heightOf, width, height, 2)
  const smoothM = blur(matte, width, height, 2)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const t = smoothM[i] > 1e-3 ? Math.min(1, smoothH[i] / smoothM[i] / objH) : 1
    out[i] = sharp[i] * (1 - t) + soft[i] * t
  }
  return out
}

/** Applies a darkening matte: rgb * (1 - d_c * matte), object pixels untouched. */
export function applyMatte(noShadow: RawImage, object: RawImage, matte: Float32Array, darkening: [number, number, number]): RawImage {
  const ch = noShadow.channels
  const out = new Uint8Array(noShadow.data)
  const n = noShadow.width * noShadow.height
  for (let i = 0; i < n; i++) {
    if (isOn(object, i) || matte[i] <= 0) continue
    for (let c = 0; c < 3; c++) out[i * ch + c] = Math.round(noShadow.data[i * ch + c] * (1 - darkening[c] * matte[i]))
  }
  return { ...noShadow, data: out }
}

export interface BaselineInput {
  noShadow: RawImage
  object: RawImage
  occluders: RawImage
  occluderShadows: RawImage
}

export function geometricBaseline(input: BaselineInput): { image: RawImage; estimate: GeometricEstimate } {
  const estimate = estimateLight(input.noShadow, input.occluders, input.occluderShadows)
  const matte = projectedShadowMatte(input.object, estimate.k)
  return { image: applyMatte(input.noShadow, input.object, matte, estimate.darkening), estimate }
}

export function runBaseline(name: BaselineName, input: BaselineInput): RawImage {
  if (name === 'identity') return { ...input.noShadow, data: new Uint8Array(input.noShadow.data) }
  return geometricBaseline(input).image
}
