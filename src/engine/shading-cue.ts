/**
 * The object's own shading as a clue to where its shadow falls.
 *
 * A solid lit from the right is brighter on its right, and its shadow falls to the left. The
 * direction output of the shipped model cannot tell left from right (on held-out synthetic pairs the
 * probability it gives to "the shadow falls right" separates the two sides no better than chance:
 * AUC 0.53), yet the slope of brightness along the object's rows separates them with an AUC of 0.86
 * (300 held-out v4 pairs; docs/model.md, ninth session). A solid lit from behind shows a bright rim
 * round a darker face, and its shadow comes towards the viewer: the rim against the core adds a
 * little to the belief's own sense of up and down (AUC 0.59 held-out, the belief 0.73).
 *
 * The cue is read from the photo at full resolution (the model's 128-px input leaves a small object
 * a few hundred pixels), on a grid of at most 65,536 of the object's pixels. It is a likelihood that
 * multiplies the model's belief before the hedge (applyShadingCue), never a decision on its own.
 */

import type { RawImage } from '../core/image'
import { directionBinAngle, weighByVonMises } from './cast-frame'

/** What the object's shading says about its light (objectShading). */
export interface ObjectShading {
  /**
   * Brightness slope across the object, in spreads of its luma per quarter of its width: > 0 is
   * brighter on the right (light from the right: the shadow falls left).
   */
  x: number
  /**
   * How much brighter its outer band is than its core, in spreads of its luma: > 0 is a bright rim,
   * as when the light is behind the object (its shadow then comes towards the viewer, down the
   * photo); < 0 a bright middle, as when the light is behind the camera.
   */
  rim: number
  /** Object pixels read. */
  pixels: number
}

/** Fewer interior pixels than this give no cue: a slope over a handful of pixels is texture, not light. */
export const MIN_SHADING_PIXELS = 24

/** At most about this many object pixels are read (a 12 MP photo's object is sampled on a grid). */
const MAX_SHADING_SAMPLES = 1 << 16

/** Rows with fewer interior samples than this say nothing about a slope across them. */
const MIN_LINE_SAMPLES = 3

/** The rim is the interior's outer part, out to this fraction of the deepest inset. */
const RIM_DEPTH = 0.35

/** The rim and the core each need this many samples, or the rim measure is 0. */
const MIN_RIM_SAMPLES = 10

/**
 * The object's shading, read on a grid of at most MAX_SHADING_SAMPLES of its pixels, from its
 * interior (object pixels whose four neighbours one grid step away are object too: a cut-out's edge
 * mixes in the background). `mask`: any nonzero pixel is object; `box`: its bounding box.
 *
 * - x: the least-squares slope of luma along each row, pooled over the rows. Within rows, what
 *   changes from row to row (a dark base, a white shirt over dark trousers) does not count, only
 *   how each row brightens towards one side: on 798 training pairs this tells left from right with
 *   an AUC of 0.89, against 0.85 for one slope over the whole object. Scaled by the interior's width
 *   and the spread of luma within rows, so it does not depend on size, resolution or contrast.
 * - rim: the mean luma of the interior's outer band (inset up to RIM_DEPTH of the deepest inset,
 *   in grid steps) minus that of the rest, over the interior's spread of luma. It tells a shadow
 *   that falls down the photo from one that falls up with an AUC of 0.66 on the same pairs (the
 *   model's belief: 0.69), and the two together do better than either (docs/model.md).
 */
export function objectShading(image: RawImage, mask: RawImage, box: { x: number; y: number; width: number; height: number }): ObjectShading | null {
  if (mask.width !== image.width || mask.height !== image.height) throw new Error('objectShading: the mask and the photo differ in size')
  const step = Math.max(1, Math.ceil(Math.sqrt((box.width * box.height) / MAX_SHADING_SAMPLES)))
  const { width, channels, data } = image
  const cols = Math.ceil(box.width / step)
  const rows = Math.ceil(box.height / step)
  // City-block distance (in grid steps) of each grid point to the nearest point outside the object,
  // the grid's own border counting as outside: 1 on the object's edge, 2 and more inside.
  const depth = new Int32Array(cols * rows)
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const x = box.x + c * step
      const y = box.y + r * step
      if (mask.data[(y * width + x) * mask.channels] === 0) continue
      const up = r > 0 ? depth[(r - 1) * cols + c] : 0
      const left = c > 0 ? depth[r * cols + c - 1] : 0
      depth[r * cols + c] = Math.min(up, left) + 1
    }
  let deepest = 0
  for (let r = rows - 1; r >= 0; r--)
    for (let c = cols - 1; c >= 0; c--) {
      const k = r * cols + c
      if (depth[k] === 0) continue
      const down = r < rows - 1 ? depth[k + cols] : 0
      const right = c < cols - 1 ? depth[k + 1] : 0
      depth[k] = Math.min(depth[k], down + 1, right + 1)
      if (depth[k] > deepest) deepest = depth[k]
    }
  const rimDepth = 1 + Math.max(1, Math.round(RIM_DEPTH * (deepest - 1)))
  // Per row: samples, sum of x, of x^2, of luma, of luma^2, of x * luma. Rim and core luma sums.
  const rowSums = new Float64Array(rows * 6)
  let n = 0, sum = 0, sumSq = 0, rimSum = 0, rimCount = 0
  let minX = Infinity, maxX = -Infinity
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const d = depth[r * cols + c]
      if (d < 2) continue
      const x = box.x + c * step
      const i = ((box.y + r * step) * width + x) * channels
      const l = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2]
      const k = r * 6
      rowSums[k] += 1
      rowSums[k + 1] += x
      rowSums[k + 2] += x * x
      rowSums[k + 3] += l
      rowSums[k + 4] += l * l
      rowSums[k + 5] += x * l
      n++
      sum += l
      sumSq += l * l
      if (d <= rimDepth) {
        rimSum += l
        rimCount++
      }
      if (x < minX) minX = x
      if (x > maxX) maxX = x
    }
  }
  if (n < MIN_SHADING_PIXELS) return null
  // Slope along the rows, pooled.
  let stt = 0, stl = 0, sll = 0, m = 0
  for (let r = 0; r < rows; r++) {
    const k = r * 6
    const c = rowSums[k]
    if (c < MIN_LINE_SAMPLES) continue
    stt += rowSums[k + 2] - (rowSums[k + 1] * rowSums[k + 1]) / c
    stl += rowSums[k + 5] - (rowSums[k + 1] * rowSums[k + 3]) / c
    sll += rowSums[k + 4] - (rowSums[k + 3] * rowSums[k + 3]) / c
    m += c
  }
  const spread = Math.sqrt(Math.max(0, sumSq / n - (sum / n) ** 2))
  // Less than half a level of spread: flat (8-bit rounding is not light), and a flat object says nothing.
  if (!(spread > 0.5)) return null
  const flatRows = !(stt > 0) || m === 0 || !(sll / m > 0.25)
  // Per quarter of the object's width: a linear ramp across the object gives sqrt(12) / 4.
  const x = flatRows ? 0 : ((stl / stt) * Math.max(1, maxX - minX)) / Math.sqrt(sll / m) / 4
  const coreCount = n - rimCount
  const rim = rimCount >= MIN_RIM_SAMPLES && coreCount >= MIN_RIM_SAMPLES ? (rimSum / rimCount - (sum - rimSum) / coreCount) / spread : 0
  return { x, rim, pixels: n }
}

/** How strongly each measure weighs the belief (exponent per unit; see applyShadingCue). */
export interface ShadingCueWeights {
  x: number
  rim: number
}

/**
 * Chosen on training and tuning pairs, never on the held-out sets or real photos (docs/model.md,
 * ninth session): see there for the likelihood fit on training pairs and the tuning-split table.
 */
export const SHADING_CUE_WEIGHTS: ShadingCueWeights = { x: 2, rim: 1.5 }

/**
 * The belief over directions weighed by the object's shading: bin k (cast angle a, y down) by
 * exp(-wx * x * cos a + wrim * rim * sin a): brighter on the right makes shadows to the left
 * likelier, a bright rim shadows down the photo (towards the viewer), and the stronger the signal
 * the more so. That is a von Mises density whose concentration is the weighed signals' length.
 * Returns a new, normalised array.
 */
export function applyShadingCue(posterior: Float64Array, shading: ObjectShading, weights: ShadingCueWeights = SHADING_CUE_WEIGHTS): Float64Array {
  const pull = [-weights.x * shading.x, weights.rim * shading.rim]
  return weighByVonMises(posterior, Math.atan2(pull[1], pull[0]), Math.hypot(pull[0], pull[1]))
}

/**
 * The probability a belief gives to shadows falling within 90 degrees of `towards` (radians; bins
 * exactly 90 degrees off count half): 0 for the right half of the compass, pi / 2 for the lower.
 */
export function halfMass(posterior: Float64Array, towards: number): number {
  let mass = 0
  for (let k = 0; k < posterior.length; k++) {
    const c = Math.cos(directionBinAngle(k, posterior.length) - towards)
    mass += posterior[k] * (c > 1e-9 ? 1 : c < -1e-9 ? 0 : 0.5)
  }
  return mass
}

/** The probability a belief gives to shadows falling right of straight up/down. */
export function rightwardMass(posterior: Float64Array): number {
  return halfMass(posterior, 0)
}

/**
 * The cue is named to the user (CastUsed.litFrom, the Light panel) only when, on its own, it would
 * move at least this much of a belief that knows nothing between left and right: a faint slope is
 * not news.
 */
export const MIN_REPORTED_SHIFT = 0.1

/**
 * The side the object looks lit from, when the slope across it reads clearly (alone, it would move
 * at least MIN_REPORTED_SHIFT of a uniform belief between left and right) and the belief weighed by
 * it puts most of the shadow on the other side; else null. The rim is left out: it moves the belief
 * up and down, and can shift an uneven belief sideways too.
 *
 * Measured against the uniform belief, not the model's own: a direction output that already reads
 * the same shading (the twelfth session's retrained head does, on a plain floor) would otherwise
 * hide the reason the shadow falls where it does.
 */
export function litSide(belief: Float64Array, shading: ObjectShading, weights: ShadingCueWeights = SHADING_CUE_WEIGHTS): 'left' | 'right' | null {
  if (shading.x === 0) return null
  const slopeOnly = { ...shading, rim: 0 }
  const uniform = new Float64Array(belief.length).fill(1 / belief.length)
  if (Math.abs(rightwardMass(applyShadingCue(uniform, slopeOnly, weights)) - 0.5) < MIN_REPORTED_SHIFT) return null
  const rightward = rightwardMass(applyShadingCue(belief, slopeOnly, weights))
  // Lit from the right (x > 0): the shadow should mostly fall left.
  const follows = shading.x > 0 ? rightward < 0.5 : rightward > 0.5
  return follows ? (shading.x > 0 ? 'right' : 'left') : null
}
