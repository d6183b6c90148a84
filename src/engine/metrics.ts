import type { RawImage } from '../core/image'

/**
 * Shadow-generation metrics as DESOBA / SGRNet report them, on 0-255 RGB images (the callers
 * resize to 256x256 first):
 *   GRMSE  RMSE over all pixels and channels
 *   LRMSE  RMSE inside the ground-truth object-shadow mask: sqrt(sum sq. err. there / (3 x mask pixels))
 *   GSSIM  mean SSIM (11x11 Gaussian window, sigma 1.5, zero padding as pytorch_ssim, C1=(0.01*255)^2,
 *          C2=(0.03*255)^2, per channel then averaged) over all pixels
 *   LSSIM  the same SSIM map averaged over the object-shadow mask
 *   BER    balanced error rate (x100) of the predicted shadow region against the object-shadow mask;
 *          the predicted region is where the prediction is darker than the shadow-free input by at
 *          least 10% of its luminance and 4 grey levels (so JPEG noise is not a "shadow").
 * LRMSE, LSSIM and BER are undefined (NaN) for a sample with an empty mask; means skip them.
 */
export interface SampleMetrics {
  GRMSE: number
  LRMSE: number
  GSSIM: number
  LSSIM: number
  BER: number
  maskPixels: number
}

export const METRIC_NAMES = ['GRMSE', 'LRMSE', 'GSSIM', 'LSSIM', 'BER'] as const
export type MetricName = (typeof METRIC_NAMES)[number]

function checkSame(a: RawImage, b: RawImage, what: string): void {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`${what}: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height})`)
}

export function rmse(pred: RawImage, target: RawImage, mask?: RawImage): number {
  checkSame(pred, target, 'rmse')
  if (pred.channels !== target.channels) throw new Error('rmse: channel counts differ')
  const n = pred.width * pred.height
  const ch = pred.channels
  let sum = 0
  let count = 0
  for (let i = 0; i < n; i++) {
    if (mask && mask.data[i * mask.channels] === 0) continue
    for (let c = 0; c < ch; c++) {
      const d = pred.data[i * ch + c] - target.data[i * ch + c]
      sum += d * d
    }
    count += ch
  }
  return count === 0 ? NaN : Math.sqrt(sum / count)
}

function gaussianWindow(size = 11, sigma = 1.5): Float64Array {
  const w = new Float64Array(size)
  const half = (size - 1) / 2
  let s = 0
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - half) ** 2) / (2 * sigma * sigma))
    s += w[i]
  }
  for (let i = 0; i < size; i++) w[i] /= s
  return w
}

/** Separable filtering with zero padding ('same' size). */
function filter2d(src: Float64Array, width: number, height: number, win: Float64Array): Float64Array {
  const half = (win.length - 1) / 2
  const tmp = new Float64Array(width * height)
  const out = new Float64Array(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0
      for (let k = 0; k < win.length; k++) {
        const xx = x + k - half
        if (xx >= 0 && xx < width) s += src[y * width + xx] * win[k]
      }
      tmp[y * width + x] = s
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0
      for (let k = 0; k < win.length; k++) {
        const yy = y + k - half
        if (yy >= 0 && yy < height) s += tmp[yy * width + x] * win[k]
      }
      out[y * width + x] = s
    }
  }
  return out
}

/** Per-pixel SSIM map averaged over channels (0-255 data). */
export function ssimMap(a: RawImage, b: RawImage): Float64Array {
  checkSame(a, b, 'ssim')
  const { width, height } = a
  const n = width * height
  const ch = a.channels
  const win = gaussianWindow()
  const C1 = (0.01 * 255) ** 2
  const C2 = (0.03 * 255) ** 2
  const map = new Float64Array(n)
  for (let c = 0; c < ch; c++) {
    const x = new Float64Array(n), y = new Float64Array(n), xx = new Float64Array(n), yy = new Float64Array(n), xy = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      const p = a.data[i * ch + c], q = b.data[i * ch + c]
      x[i] = p
      y[i] = q
      xx[i] = p * p
      yy[i] = q * q
      xy[i] = p * q
    }
    const mx = filter2d(x, width, height, win), my = filter2d(y, width, height, win)
    const sxx = filter2d(xx, width, height, win), syy = filter2d(yy, width, height, win), sxy = filter2d(xy, width, height, win)
    for (let i = 0; i < n; i++) {
      const vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cov = sxy[i] - mx[i] * my[i]
      map[i] += (((2 * mx[i] * my[i] + C1) * (2 * cov + C2)) / ((mx[i] ** 2 + my[i] ** 2 + C1) * (vx + vy + C2))) / ch
    }
  }
  return map
}

function luminance(img: RawImage, i: number): number {
  const o = i * img.channels
  if (img.channels === 1) return img.data[o]
  return 0.299 * img.data[o] + 0.587 * img.data[o + 1] + 0.114 * img.data[o + 2]
}

/** The predicted shadow region: pixels the prediction made visibly darker than the shadow-free input. */
export function predictedShadowRegion(pred: RawImage, noShadow: RawImage): Uint8Array {
  checkSame(pred, noShadow, 'shadow region')
  const n = pred.width * pred.height
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const before = luminance(noShadow, i)
    const drop = before - luminance(pred, i)
    out[i] = drop >= 4 && drop >= 0.1 * before ? 1 : 0
  }
  return out
}

/** Balanced error rate x100: 100 * (1 - (TPR + TNR) / 2). NaN without positives. */
export function balancedErrorRate(predicted: Uint8Array, mask: RawImage): number {
  let tp = 0, fn = 0, tn = 0, fp = 0
  for (let i = 0; i < predicted.length; i++) {
    const gt = mask.data[i * mask.channels] > 0
    if (gt && predicted[i]) tp++
    else if (gt) fn++
    else if (predicted[i]) fp++
    else tn++
  }
  if (tp + fn === 0) return NaN
  const tpr = tp / (tp + fn)
  const tnr = tn + fp === 0 ? 1 : tn / (tn + fp)
  return 100 * (1 - (tpr + tnr) / 2)
}

/** `ssim: false` skips the SSIM maps (GSSIM and LSSIM NaN): most of the cost, for fits that score many variants by RMSE and BER. */
export function computeSampleMetrics(pred: RawImage, target: RawImage, noShadow: RawImage, objectShadowMask: RawImage, { ssim = true }: { ssim?: boolean } = {}): SampleMetrics {
  checkSame(pred, target, 'metrics')
  checkSame(pred, objectShadowMask, 'metrics mask')
  const n = pred.width * pred.height
  let maskPixels = 0
  for (let i = 0; i < n; i++) if (objectShadowMask.data[i * objectShadowMask.channels] > 0) maskPixels++
  const map = ssim ? ssimMap(pred, target) : null
  let gs = map ? 0 : NaN, ls = map ? 0 : NaN
  if (map) {
    for (let i = 0; i < n; i++) {
      gs += map[i]
      if (objectShadowMask.data[i * objectShadowMask.channels] > 0) ls += map[i]
    }
  }
  return {
    GRMSE: rmse(pred, target),
    LRMSE: maskPixels > 0 ? rmse(pred, target, objectShadowMask) : NaN,
    GSSIM: gs / n,
    LSSIM: maskPixels > 0 && map ? ls / maskPixels : NaN,
    BER: balancedErrorRate(predictedShadowRegion(pred, noShadow), objectShadowMask),
    maskPixels,
  }
}

/** Mean of each metric over samples, skipping NaN (samples with an empty mask for the local ones). */
export function meanMetrics(samples: SampleMetrics[]): Record<MetricName, number> & { count: number } {
  const out = { count: samples.length } as Record<MetricName, number> & { count: number }
  for (const name of METRIC_NAMES) {
    const vals = samples.map((s) => s[name]).filter((v) => Number.isFinite(v))
    out[name] = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : NaN
  }
  return out
}
