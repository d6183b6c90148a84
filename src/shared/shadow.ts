/**
 * Shadow-layer math shared by the editor (what the canvas shows) and the Node side (what export
 * writes), so both give the same pixels. Plain TypeScript, no DOM, no Node.
 *
 * A shadow layer's pixels are a multiply layer: alpha a and colour c, applied as
 * photo * (1 - a + a c). In "darkening" form d_k = a (1 - c_k) every user edit is linear per channel:
 *   softness  d <- gaussian_blur(d, sigma)
 *   density   d <- d * density
 *   tint      d_k <- d_k * (1 - tint_k)      (tint = the colour of the shade: black = as generated)
 *   brush     d <- d * mask / 255           (erase / restore)
 * then a = max_k d_k, c_k = 1 - d_k / a.
 */
import type { LightOrigin, ShadowEdits, ShadowLayer, ShadowSource, Transform } from './project'

export interface ResolvedShadowEdits {
  density: number
  softness: number
  tint: string
  skewX: number
  maskAssetId: string | null
}

export const NEUTRAL_EDITS: ResolvedShadowEdits = { density: 1, softness: 0, tint: '#000000', skewX: 0, maskAssetId: null }

export function shadowEdits(edits: ShadowEdits | undefined): ResolvedShadowEdits {
  return {
    density: edits?.density ?? 1,
    softness: edits?.softness ?? 0,
    tint: edits?.tint ?? '#000000',
    skewX: edits?.skewX ?? 0,
    maskAssetId: edits?.maskAssetId ?? null,
  }
}

/** True when the edits change pixels (so the generated image can be drawn as it is otherwise). */
export function editsChangePixels(e: ResolvedShadowEdits): boolean {
  return e.density !== 1 || e.softness > 0 || e.tint.toLowerCase() !== '#000000' || !!e.maskAssetId
}

export function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16)
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255]
}

/** Splits an RGBA multiply layer into its darkening d (3 channels, 0-255, as Uint8ClampedArray). */
export function toDarkening(rgba: Uint8Array | Uint8ClampedArray, pixels: number): Uint8ClampedArray {
  const d = new Uint8ClampedArray(pixels * 3)
  for (let i = 0, j = 0, k = 0; i < pixels; i++, j += 4, k += 3) {
    const a = rgba[j + 3]
    if (a === 0) continue
    d[k] = (a * (255 - rgba[j])) / 255 + 0.5
    d[k + 1] = (a * (255 - rgba[j + 1])) / 255 + 0.5
    d[k + 2] = (a * (255 - rgba[j + 2])) / 255 + 0.5
  }
  return d
}

/**
 * Applies density, tint and the brush mask to a (blurred) darkening and writes the multiply
 * layer into `out` (RGBA). `mask` is one channel, same size, 255 = keep.
 */
export function darkeningToLayer(d: Uint8Array | Uint8ClampedArray, pixels: number, e: ResolvedShadowEdits, mask: Uint8Array | Uint8ClampedArray | null, out: Uint8Array | Uint8ClampedArray, maskStride = 1): void {
  const [tr, tg, tb] = hexToRgb(e.tint)
  const kr = e.density * (1 - tr / 255)
  const kg = e.density * (1 - tg / 255)
  const kb = e.density * (1 - tb / 255)
  for (let i = 0, k = 0, j = 0; i < pixels; i++, k += 3, j += 4) {
    const m = mask ? mask[i * maskStride] / 255 : 1
    const r = Math.min(255, d[k] * kr * m)
    const g = Math.min(255, d[k + 1] * kg * m)
    const b = Math.min(255, d[k + 2] * kb * m)
    const a = r > g ? (r > b ? r : b) : g > b ? g : b
    if (a < 0.5) {
      out[j] = out[j + 1] = out[j + 2] = 255
      out[j + 3] = 0
      continue
    }
    out[j] = (255 * (a - r)) / a + 0.5
    out[j + 1] = (255 * (a - g)) / a + 0.5
    out[j + 2] = (255 * (a - b)) / a + 0.5
    out[j + 3] = a + 0.5
  }
}

// ---- light steering ----

/** Degrees to a unit vector (0 = right, 90 = down: screen coordinates). */
export function direction(angle: number): { x: number; y: number } {
  const r = (angle * Math.PI) / 180
  return { x: Math.cos(r), y: Math.sin(r) }
}

/**
 * The layer transform for a steered light: the generated shadow re-projected about the object's
 * contact point, rotated so that its cast direction becomes `light.angle` and scaled so its length
 * becomes `light.length`. This is how a shadow on the ground moves when the light moves round the
 * object (azimuth: rotation about the foot; elevation: length). Without a steered light, the
 * generated transform; without a cast direction to steer, the generated transform too.
 */
export function steeredTransform(source: ShadowSource, light: { angle: number; length: number } | null | undefined): Transform {
  const t = source.generatedTransform
  if (!light || source.castAngle === null || source.castLength <= 0) return t
  const delta = light.angle - source.castAngle
  const k = light.length / source.castLength
  const r = (delta * Math.PI) / 180
  const dx = t.x - source.contact.x
  const dy = t.y - source.contact.y
  return {
    ...t,
    x: source.contact.x + k * (dx * Math.cos(r) - dy * Math.sin(r)),
    y: source.contact.y + k * (dx * Math.sin(r) + dy * Math.cos(r)),
    scaleX: t.scaleX * k,
    scaleY: t.scaleY * k,
    angle: (((t.angle + delta) % 360) + 360) % 360,
  }
}

/** The light currently in effect: the steered one, or the generated direction and length. */
export function currentLight(source: ShadowSource): { angle: number; length: number } | null {
  if (source.light) return source.light
  if (source.castAngle === null || source.castLength <= 0) return null
  return { angle: source.castAngle, length: source.castLength }
}

/** Degrees into [-180, 180): the range of the panel's Direction slider. */
export function normAngle(a: number): number {
  return ((((a + 180) % 360) + 360) % 360) - 180
}

/**
 * One sentence on where the shadow's direction came from, for the light panel: a faint, wide
 * shadow is the model hedging between directions, and the user should know that steering fixes
 * it. Null when there is nothing to say (a model that chose the direction itself, or a file from
 * before this was kept).
 */
export function describeLightOrigin(source: ShadowSource): string | null {
  if (source.light) return 'Direction: steered by you.'
  const origin = source.lightOrigin
  if (!origin) return null
  const lit = origin.litFrom ? ` The object looks lit from the ${origin.litFrom}, so its shadow more likely falls ${origin.litFrom === 'left' ? 'right' : 'left'}.` : ''
  const scene = origin.sceneAngle !== undefined ? ` The shadows already in the photo point about ${Math.round(normAngle(origin.sceneAngle))}°, which the estimate takes into account.` : ''
  return describeKind(origin) + lit + scene
}

function describeKind(origin: LightOrigin): string {
  switch (origin.kind) {
    case 'user':
      return 'Direction: steered by you.'
    case 'scene':
      return 'Direction: read from the shadows already in the photo.'
    case 'model':
      return `Direction: the model's estimate${origin.confidence !== undefined ? ` (${Math.round(origin.confidence * 100)}% sure)` : ''}.`
    case 'spread': {
      const likely = [...(origin.directions ?? [])].sort((a, b) => b.weight - a.weight).slice(0, 3)
      const list = likely.map((d) => `${Math.round(normAngle(d.angle))}° ${Math.round(d.weight * 100)}%`).join(', ')
      return `Direction not known: the shadow is the mean over the likely directions${list ? ` (${list})` : ''}, so it is fainter and wider than one shadow. Set the direction for a crisp one.`
    }
    case 'sun':
      return `Direction: away from the sun, which is in the photo${origin.sun ? ` (the bright glow at ${origin.sun.x}, ${origin.sun.y})` : ''}: the shadow comes towards the viewer.`
    case 'default':
      return 'Direction not known: light assumed from the upper left. Set the direction to match the photo.'
  }
}

/** True when the object moved, scaled, rotated or flipped since its shadow was generated. */
export function shadowIsStale(shadow: ShadowLayer, object: { transform: Transform } | undefined): boolean {
  if (!shadow.source || !object) return false
  const a = shadow.source.objectTransform
  const b = object.transform
  const near = (p: number, q: number, tol: number) => Math.abs(p - q) <= tol
  return !(near(a.x, b.x, 0.5) && near(a.y, b.y, 0.5) && near(a.scaleX, b.scaleX, 1e-4) && near(a.scaleY, b.scaleY, 1e-4) && near(a.angle, b.angle, 0.01) && a.flipX === b.flipX && a.flipY === b.flipY)
}
