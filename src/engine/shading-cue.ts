/**
 * The object's own shading as a clue to where its shadow falls.
 *
 * A solid lit from the right is brighter on its right, and its shadow falls to the left. The
 * direction output of the shipped model cannot tell left from right (on held-out synthetic pairs the
 * probability it gives to "the shadow falls right" separates the two sides no better than chance:
 * AUC 0.53), yet the slope of brightness along the object's rows separates them with an AUC of 0.87
 * (300 held-out v4 pairs; docs/model.md, ninth session). The slope down the object says less (AUC
 * 0.62): tops are brighter under any sun.
 *
 * The cue is read from the photo at full resolution (the model's 128-px input leaves a small object
 * a few hundred pixels), on a grid of at most 65,536 of the object's pixels. It is a likelihood that
 * multiplies the model's belief before the hedge (applyShadingCue), never a decision on its own.
 */

import type { RawImage } from '../core/image'
import { directionBinAngle, weighByVonMises } from './cast-frame'

/** Brightness slopes across the object (objectShading): luma spreads per quarter of its width / height. */
export interface ObjectShading {
  /** > 0: brighter on the right (light from the right: the shadow falls left). */
  x: number
  /** > 0: brighter at the bottom. */
  y: number
  /** Object pixels the slopes were fitted on. */
  pixels: number
}

/** Fewer interior pixels than this give no cue: a slope over a handful of pixels is texture, not light. */
export const MIN_SHADING_PIXELS = 24

/** At most about this many object pixels are read (a 12 MP photo's object is sampled on a grid). */
const MAX_SHADING_SAMPLES = 1 << 16

/** Rows (or columns) with fewer interior samples than this say nothing about a slope across them. */
const MIN_LINE_SAMPLES = 3

/**
 * Brightness slopes across the object's interior (object pixels whose four neighbours one grid step
 * away are object too: a cut-out's edge mixes in the background), each fitted within lines: the
 * x slope pools the least-squares slopes of luma along each row, the y slope those along each
 * column. Within rows, what changes from row to row (a dark base, a white shirt over dark trousers)
 * does not count, only how each row brightens towards one side: on 798 training pairs this tells
 * left from right with an AUC of 0.89, against 0.85 for one slope over the whole object. The slope
 * is scaled by the interior's width and the spread of luma within rows, so it does not depend on the
 * object's size, resolution or contrast. `mask`: any nonzero pixel is object; `box`: its bounding box.
 */
export function objectShading(image: RawImage, mask: RawImage, box: { x: number; y: number; width: number; height: number }): ObjectShading | null {
  if (mask.width !== image.width || mask.height !== image.height) throw new Error('objectShading: the mask and the photo differ in size')
  const step = Math.max(1, Math.ceil(Math.sqrt((box.width * box.height) / MAX_SHADING_SAMPLES)))
  const { width, height, channels, data } = image
  const mc = mask.channels
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask.data[(y * width + x) * mc] !== 0
  const cols = Math.ceil(box.width / step)
  const rows = Math.ceil(box.height / step)
  // Per row and per column: samples, sum of position, of position^2, of luma, of luma^2, of position * luma.
  const rowSums = new Float64Array(rows * 6)
  const colSums = new Float64Array(cols * 6)
  const add = (sums: Float64Array, k: number, t: number, l: number) => {
    sums[k * 6] += 1
    sums[k * 6 + 1] += t
    sums[k * 6 + 2] += t * t
    sums[k * 6 + 3] += l
    sums[k * 6 + 4] += l * l
    sums[k * 6 + 5] += t * l
  }
  let n = 0
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity
  for (let r = 0; r < rows; r++) {
    const y = box.y + r * step
    for (let c = 0; c < cols; c++) {
      const x = box.x + c * step
      if (!inside(x, y) || !inside(x - step, y) || !inside(x + step, y) || !inside(x, y - step) || !inside(x, y + step)) continue
      const i = (y * width + x) * channels
      const l = 0.2126 * data[i] + 0.7152 * data[i + 1] + 0.0722 * data[i + 2]
      add(rowSums, r, x, l)
      add(colSums, c, y, l)
      n++
      if (x < minX) minX = x
      if (x > maxX) maxX = x
      if (y < minY) minY = y
      if (y > maxY) maxY = y
    }
  }
  if (n < MIN_SHADING_PIXELS) return null
  /**
   * The pooled within-line slope scaled by the extent and the within-line spread of luma; 0 where
   * luma does not change along the lines, null where no line has enough samples.
   */
  const pooled = (sums: Float64Array, lines: number, extent: number): number | null => {
    let stt = 0, stl = 0, sll = 0, m = 0
    for (let k = 0; k < lines; k++) {
      const c = sums[k * 6]
      if (c < MIN_LINE_SAMPLES) continue
      const [t, tt, l, ll, tl] = [sums[k * 6 + 1], sums[k * 6 + 2], sums[k * 6 + 3], sums[k * 6 + 4], sums[k * 6 + 5]]
      stt += tt - (t * t) / c
      stl += tl - (t * l) / c
      sll += ll - (l * l) / c
      m += c
    }
    if (!(stt > 0) || m === 0) return null
    // Less than half a level of spread: flat along these lines (8-bit rounding is not light).
    if (!(sll / m > 0.25)) return 0
    // Per quarter of the object's extent: a linear ramp across the object gives sqrt(12) / 4.
    return ((stl / stt) * Math.max(1, extent)) / Math.sqrt(sll / m) / 4
  }
  const x = pooled(rowSums, rows, maxX - minX)
  const y = pooled(colSums, cols, maxY - minY)
  // A flat object (one colour, no light on it) says nothing.
  if (x === null || y === null || (x === 0 && y === 0)) return null
  return { x, y, pixels: n }
}

/** How strongly the shading slopes weigh the belief (the exponent per unit slope); see SHADING_CUE_WEIGHTS. */
export interface ShadingCueWeights {
  x: number
  y: number
}

/**
 * Chosen on training and tuning pairs, never on the held-out sets or real photos (docs/model.md,
 * ninth session). On 799 training pairs the weight that maximises the log-probability the shipped
 * model's belief, weighed by the cue, gives the true direction is x = 4, y = 0 (the slope down the
 * object adds nothing the belief lacks). On the tuning split (`umbra eval`, data/synth-tune-v4)
 * x = 2 lowers LRMSE without raising GRMSE (6.54 / 36.20 -> 6.52 / 35.22); x = 4 lowers LRMSE more
 * but raises GRMSE (6.59 / 34.93): a surer hedge darkens more where it is wrong.
 */
export const SHADING_CUE_WEIGHTS: ShadingCueWeights = { x: 2, y: 0 }

/**
 * The belief over directions weighed by the object's shading: bin k (cast angle a, y down) by
 * exp(-(wx * shading.x * cos a + wy * shading.y * sin a)): brighter on the right makes shadows
 * to the left likelier, and the stronger the slope the more so. That is a von Mises density
 * pointing away from the brighter side, with the slope's weighed length as its concentration.
 * Returns a new, normalised array.
 */
export function applyShadingCue(posterior: Float64Array, shading: ObjectShading, weights: ShadingCueWeights = SHADING_CUE_WEIGHTS): Float64Array {
  const towardsLight = [weights.x * shading.x, weights.y * shading.y]
  return weighByVonMises(posterior, Math.atan2(-towardsLight[1], -towardsLight[0]), Math.hypot(towardsLight[0], towardsLight[1]))
}

/** The probability a belief gives to shadows falling right of straight up/down (bins on the vertical count half). */
export function rightwardMass(posterior: Float64Array): number {
  let mass = 0
  for (let k = 0; k < posterior.length; k++) {
    const c = Math.cos(directionBinAngle(k, posterior.length))
    mass += posterior[k] * (c > 1e-9 ? 1 : c < -1e-9 ? 0 : 0.5)
  }
  return mass
}

/**
 * The cue is named to the user (CastUsed.litFrom, the Light panel) only when it moved at least
 * this much of the belief between left and right: a faint slope that changed nothing is not news.
 */
export const MIN_REPORTED_SHIFT = 0.1
