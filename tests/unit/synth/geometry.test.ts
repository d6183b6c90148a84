import { describe, expect, it } from 'vitest'
import { renderPair } from '../../../src/synth/render'
import { entityFromPrimitives, makeCamera, type Scene, type V3 } from '../../../src/synth/scene'
import { Sphere, frameYaw } from '../../../src/synth/primitives'
import { proceduralTextures, type TextureSet } from '../../../src/synth/textures'

const textures: TextureSet = { source: null, textures: proceduralTextures(64), skipped: [] }
const SIZE = 96
const R = 0.5
const CAM_POS: V3 = [0.3, 4.5, -5]
const CAM_TARGET: V3 = [0.6, 0, 0.8]
const FOV = 50

function sunDir(azimuthDeg: number, elevationDeg: number): V3 {
  const el = (elevationDeg * Math.PI) / 180
  const az = (azimuthDeg * Math.PI) / 180
  return [Math.cos(el) * Math.sin(az), Math.sin(el), Math.cos(el) * Math.cos(az)]
}

/** A sphere resting on the ground at the origin, a fixed camera, a near-point sun, no AO, no camera effects. */
function sphereScene(azimuthDeg: number, elevationDeg: number) {
  return (sc: Scene): Scene => {
    const sphere = new Sphere(frameYaw([0, R, 0], 0), R).finish()
    const mat = { ...sc.ground, tint: [0.7, 0.7, 0.7] as V3 }
    const object = entityFromPrimitives('object', 'sphere', [sphere], [mat], 2 * R, [0, 0, 0], 0)
    return {
      ...sc,
      ground: { ...sc.ground, tint: [0.6, 0.6, 0.6], scale: sc.ground.scale * 0.01 },
      entities: [object],
      objectIndex: 0,
      wall: null,
      backdrop: null,
      camera: makeCamera(CAM_POS, CAM_TARGET, FOV, 0),
      light: { ...sc.light, dir: sunDir(azimuthDeg, elevationDeg), elevationDeg, azimuthDeg, radius: 0.0005, sun: [1, 1, 1], sky: [0.2, 0.2, 0.25], bounce: [0.05, 0.05, 0.05] },
      post: { ...sc.post, blurSigma: 0, noiseSigma: 0, vignette: 0, key: 0.2 },
      scale: 2 * R,
      aoStrength: 0,
      groundMacro: null,
      hazeDistance: Infinity,
    }
  }
}

/** Independent analytic prediction: pixels whose ground point sees the sun through the sphere. */
function predictedShadow(L: V3): Uint8Array {
  const cam = makeCamera(CAM_POS, CAM_TARGET, FOV, 0)
  const out = new Uint8Array(SIZE * SIZE)
  const C: V3 = [0, R, 0]
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const xn = ((2 * (x + 0.5)) / SIZE - 1) * cam.tanHalf
      const yn = (1 - (2 * (y + 0.5)) / SIZE) * cam.tanHalf
      const d = [0, 1, 2].map((i) => cam.forward[i] + xn * cam.right[i] + yn * cam.up[i])
      const l = Math.hypot(d[0], d[1], d[2])
      const [dx, dy, dz] = [d[0] / l, d[1] / l, d[2] / l]
      const o = cam.position
      // The sphere itself hides the ground behind it.
      const v = [C[0] - o[0], C[1] - o[1], C[2] - o[2]]
      const b = v[0] * dx + v[1] * dy + v[2] * dz
      if (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - b * b < R * R) continue
      if (dy >= 0) continue
      const t = -o[1] / dy
      const g = [o[0] + t * dx, 0, o[2] + t * dz]
      const w = [C[0] - g[0], C[1] - g[1], C[2] - g[2]]
      const s = w[0] * L[0] + w[1] * L[1] + w[2] * L[2]
      if (s > 0 && w[0] * w[0] + w[1] * w[1] + w[2] * w[2] - s * s < R * R) out[y * SIZE + x] = 255
    }
  }
  return out
}

function centroid(mask: Uint8Array): { x: number; y: number; n: number } {
  let sx = 0, sy = 0, n = 0
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue
    sx += i % SIZE
    sy += Math.floor(i / SIZE)
    n++
  }
  return { x: sx / n, y: sy / n, n }
}

describe('synthetic renderer geometry', () => {
  it.each([
    [30, 35],
    [140, 50],
    [250, 25],
  ])('puts the shadow of a sphere where the analytic projection does (sun azimuth %i, elevation %i)', (az, el) => {
    const pair = renderPair(1, { size: SIZE, textures, sceneOverride: sphereScene(az, el), maxAttempts: 1 })
    const predicted = predictedShadow(sunDir(az, el))
    const got = centroid(pair.objectShadow.data)
    const want = centroid(predicted)
    expect(want.n).toBeGreaterThan(30)
    expect(got.n).toBeGreaterThan(30)
    expect(Math.hypot(got.x - want.x, got.y - want.y)).toBeLessThan(1.5)
    // Same shape, not just the same centre: intersection over union.
    let inter = 0, union = 0
    for (let i = 0; i < predicted.length; i++) {
      const a = predicted[i] > 0, b = pair.objectShadow.data[i] > 0
      if (a && b) inter++
      if (a || b) union++
    }
    expect(inter / union).toBeGreaterThan(0.8)
  })

  it('shortens the shadow when the sun rises', () => {
    const extent = (el: number): number => {
      const pair = renderPair(1, { size: SIZE, textures, sceneOverride: sphereScene(60, el), maxAttempts: 1 })
      // Farthest shadow pixel from the sphere's contact point, in pixels.
      const cam = makeCamera(CAM_POS, CAM_TARGET, FOV, 0)
      const v: V3 = [-cam.position[0], -cam.position[1], -cam.position[2]]
      const z = v[0] * cam.forward[0] + v[1] * cam.forward[1] + v[2] * cam.forward[2]
      const cx = ((v[0] * cam.right[0] + v[1] * cam.right[1] + v[2] * cam.right[2]) / (z * cam.tanHalf) + 1) * (SIZE / 2)
      const cy = (1 - (v[0] * cam.up[0] + v[1] * cam.up[1] + v[2] * cam.up[2]) / (z * cam.tanHalf)) * (SIZE / 2)
      let far = 0
      pair.objectShadow.data.forEach((m, i) => {
        if (m) far = Math.max(far, Math.hypot((i % SIZE) + 0.5 - cx, Math.floor(i / SIZE) + 0.5 - cy))
      })
      return far
    }
    const low = extent(25)
    const mid = extent(45)
    const high = extent(70)
    expect(low).toBeGreaterThan(mid + 2)
    expect(mid).toBeGreaterThan(high + 2)
  })
})
