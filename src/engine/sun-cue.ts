/**
 * The sun in the picture as a clue to where shadows fall.
 *
 * When the sun, or the glow round it at sunset, is in the frame, the light comes from behind the
 * scene: shadows on the ground run from the point below the sun towards the viewer, so in the
 * photo an object's shadow falls along the line from the sun through the object's foot, beyond
 * the foot. The direction output of the model does not read this (the synthetic training scenes
 * never show their sun), and on such photos its belief hedged between left and right (docs/model.md,
 * fourteenth session), where anyone looking at the photo sees that the shadow comes forward.
 *
 * What counts as "the sun in the picture" (findSunInPhoto) is narrow on purpose, because the cue
 * decides the direction when it fires: the brightest pixels clip, they gather in one compact patch
 * in the upper part of the frame, well above the object, and they are much brighter than the photo
 * as a whole (a backlit scene is dark where it faces the camera). Overcast skies (bright
 * everywhere), white walls and clothes (not clipped far above a darker scene, or not compact) and
 * glints on water (not bright enough against the rest) do not pass; docs/model.md lists the photos
 * it was checked on and which of them fire.
 */

import type { RawImage } from '../core/image'

/** The photo is read on a grid of at most this many points along its longer side. */
const SUN_GRID = 256

/** The brightest fraction of the grid points: the patch whose place and shape are judged. */
const BRIGHT_FRACTION = 0.005

/**
 * The brightest grid point (a cell's mean) must reach this luma (0-255): the sun, or the sky round
 * it, clips. The sunset sample's reaches 237.
 */
export const SUN_MIN_PEAK = 225

/**
 * The bright patch's RMS distance from its centre, as a fraction of the photo's diagonal, at most:
 * one compact patch, not bright sky along the whole top or a scatter of highlights. The sunset
 * sample measures 0.077. A glint on water or one small highlight can be as compact; the contrast
 * and glow tests stop those.
 */
export const SUN_MAX_SPREAD = 0.09

/**
 * The patch's luma (the BRIGHT_FRACTION quantile) over the photo's median luma, at least: the light
 * source is far brighter than a scene that faces away from it. The sunset sample measures 2.98;
 * the daylight photos checked, 1.0-2.4 (docs/model.md).
 */
export const SUN_MIN_CONTRAST = 2.6

/**
 * The ring round the patch at least this bright (SunInPhoto.glow): light scattered round the sun
 * fades slowly. The sunset sample measures 0.27; a white figure on a dark blue ground, -0.01.
 */
export const SUN_MIN_GLOW = 0.15

/** The patch's centre lies in the upper part of the photo, at most this fraction of its height down. */
export const SUN_MAX_HEIGHT = 0.6

/** ...and above the object's foot by at least this fraction of the photo's height. */
export const SUN_MIN_ABOVE_FOOT = 0.15

/** The sun (or its glow) found in a photo: its centre in photo pixels, and what was measured. */
export interface SunInPhoto {
  x: number
  y: number
  /** The brightest grid point's luma. */
  peak: number
  /** The bright patch's RMS distance from its centre, over the photo's diagonal. */
  spread: number
  /** The bright patch's luma over the photo's median luma. */
  contrast: number
  /** The ring round the patch (1.5 to 3 RMS radii out): 0 = as the photo's median, 1 = as the patch. */
  glow: number
}

/**
 * The photo's brightest patch (its brightest BRIGHT_FRACTION of grid points, the object's own
 * pixels left out: `mask`, one channel, same size, any nonzero pixel is the object): where it is and
 * how it measures against the tests of findSunInPhoto. Null for a photo too small to read.
 */
export function brightestPatch(image: RawImage, mask: RawImage | null): SunInPhoto | null {
  const { width, height, channels, data } = image
  if (mask && (mask.width !== width || mask.height !== height)) throw new Error('brightestPatch: the mask and the photo differ in size')
  const step = Math.max(1, Math.ceil(Math.max(width, height) / SUN_GRID))
  const xs: number[] = []
  const ys: number[] = []
  const ls: number[] = []
  // Each grid point is the mean of its cell (read every `inner` pixels): one point sampled alone
  // would catch single clipped highlights, and the patch's shape would follow the noise.
  const inner = Math.max(1, Math.floor(step / 2))
  const colour = channels >= 3
  const maskData = mask?.data
  const maskChannels = mask?.channels ?? 1
  for (let y0 = 0; y0 < height; y0 += step)
    for (let x0 = 0; x0 < width; x0 += step) {
      let sum = 0, count = 0, objectPixels = 0
      const y1 = Math.min(height, y0 + step)
      const x1 = Math.min(width, x0 + step)
      for (let y = y0; y < y1; y += inner)
        for (let x = x0; x < x1; x += inner) {
          const p = y * width + x
          count++
          if (maskData && maskData[p * maskChannels] !== 0) {
            objectPixels++
            continue
          }
          const i = p * channels
          sum += colour ? 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2] : data[i]
        }
      // A cell that is mostly object is not the photo's: the object's highlights do not count.
      if (objectPixels * 2 >= count) continue
      xs.push(Math.min(width, x0 + step / 2))
      ys.push(Math.min(height, y0 + step / 2))
      ls.push(sum / (count - objectPixels))
    }
  if (ls.length < 1000) return null
  const sorted = Float64Array.from(ls).sort()
  const peak = sorted[sorted.length - 1]
  const median = sorted[sorted.length >> 1]
  const brightLevel = sorted[Math.floor(sorted.length * (1 - BRIGHT_FRACTION))]
  let n = 0, sx = 0, sy = 0
  for (let i = 0; i < ls.length; i++)
    if (ls[i] >= brightLevel) {
      n++
      sx += xs[i]
      sy += ys[i]
    }
  const x = sx / n
  const y = sy / n
  let ss = 0
  for (let i = 0; i < ls.length; i++) if (ls[i] >= brightLevel) ss += (xs[i] - x) ** 2 + (ys[i] - y) ** 2
  // The glow: how bright the ring round the patch is (1.5 to 3 RMS radii out: a uniform disc ends
  // at 1.41), from the median (0) to the patch (1). Light scattered round the sun fades slowly; a
  // white thing on a darker ground stops at its edge.
  const radius = Math.max(Math.sqrt(ss / n), 0.02 * Math.hypot(width, height))
  let ring = 0, ringCount = 0
  for (let i = 0; i < ls.length; i++) {
    const d = Math.hypot(xs[i] - x, ys[i] - y)
    if (d >= 1.5 * radius && d <= 3 * radius) {
      ring += ls[i]
      ringCount++
    }
  }
  const glow = ringCount > 0 ? (ring / ringCount - median) / Math.max(brightLevel - median, 1) : 0
  return { x, y, peak, spread: Math.sqrt(ss / n) / Math.hypot(width, height), contrast: brightLevel / Math.max(median, 1), glow }
}

/**
 * The sun or its glow, when the photo shows one (see the module comment for the test), else null.
 * `mask` keeps a bright object out of the reading (brightestPatch); `foot` is the object's contact
 * point: a "sun" that is not well above it is none.
 */
export function findSunInPhoto(image: RawImage, mask: RawImage | null, foot: { x: number; y: number }): SunInPhoto | null {
  const patch = brightestPatch(image, mask)
  if (!patch || patch.peak < SUN_MIN_PEAK || patch.contrast < SUN_MIN_CONTRAST || patch.spread > SUN_MAX_SPREAD || patch.glow < SUN_MIN_GLOW) return null
  if (patch.y > SUN_MAX_HEIGHT * image.height || patch.y > foot.y - SUN_MIN_ABOVE_FOOT * image.height) return null
  return patch
}

/** The cast angle (radians, photo frame: 0 = right, pi/2 = down) away from `sun` through `foot`. */
export function castAngleFromSun(sun: { x: number; y: number }, foot: { x: number; y: number }): number {
  return Math.atan2(foot.y - sun.y, foot.x - sun.x)
}
