import type { Layer, ShadowLayer } from '../../../shared/project'
import { darkeningToLayer, editsChangePixels, shadowEdits, toDarkening } from '../../../shared/shadow'

/**
 * What the canvas draws for a shadow layer: the generated image with the user's pixel edits
 * (softness, density, tint, brush mask) applied by the same math export uses
 * (src/shared/shadow.ts; export blurs with sharp, here the canvas's Gaussian blur filter).
 * Skew, move, scale and opacity are Fabric properties, not pixels.
 */

/** A key that changes whenever what the canvas must draw for the layer's pixels changes. */
export function layerDrawKey(layer: Layer): string {
  if (layer.kind !== 'shadow') return layer.assetId
  const e = shadowEdits(layer.edits)
  if (!editsChangePixels(e)) return layer.assetId
  const sigma = e.softness > 0 ? (e.softness / ((layer.transform.scaleX + layer.transform.scaleY) / 2)).toFixed(2) : '0'
  return `${layer.assetId}|${e.density}|${sigma}|${e.tint}|${e.maskAssetId ?? ''}`
}

const images = new Map<string, Promise<HTMLImageElement>>()
export function loadImage(url: string): Promise<HTMLImageElement> {
  let p = images.get(url)
  if (!p) {
    p = new Promise((resolve, reject) => {
      const img = new Image()
      img.onload = () => resolve(img)
      img.onerror = () => reject(new Error('cannot decode the image'))
      img.src = url
    })
    images.set(url, p)
  }
  return p
}

/** The shadow's pixels with its edits, as a canvas the size of its preview. */
export async function renderShadowCanvas(layer: ShadowLayer, url: string, maskUrl: string | null): Promise<HTMLCanvasElement> {
  const e = shadowEdits(layer.edits)
  const img = await loadImage(url)
  const w = img.naturalWidth
  const h = img.naturalHeight
  const out = document.createElement('canvas')
  out.width = w
  out.height = h
  const g = out.getContext('2d', { willReadFrequently: true })!
  g.drawImage(img, 0, 0)
  if (!editsChangePixels(e)) return out
  const pixels = w * h
  const src = g.getImageData(0, 0, w, h)
  let d: Uint8ClampedArray = toDarkening(src.data, pixels)
  const sigma = e.softness / Math.max(1e-6, (layer.transform.scaleX + layer.transform.scaleY) / 2)
  if (sigma >= 0.3) {
    // Blur the darkening as an opaque RGB image (no premultiplied-alpha fringes), like export does.
    const tmp = document.createElement('canvas')
    tmp.width = w
    tmp.height = h
    const tg = tmp.getContext('2d', { willReadFrequently: true })!
    const rgb = tg.createImageData(w, h)
    for (let i = 0, k = 0, j = 0; i < pixels; i++, k += 3, j += 4) {
      rgb.data[j] = d[k]
      rgb.data[j + 1] = d[k + 1]
      rgb.data[j + 2] = d[k + 2]
      rgb.data[j + 3] = 255
    }
    tg.putImageData(rgb, 0, 0)
    const blurred = document.createElement('canvas')
    blurred.width = w
    blurred.height = h
    const bg = blurred.getContext('2d', { willReadFrequently: true })!
    bg.fillStyle = '#000'
    bg.fillRect(0, 0, w, h)
    bg.filter = `blur(${sigma}px)`
    bg.drawImage(tmp, 0, 0)
    const b = bg.getImageData(0, 0, w, h).data
    d = new Uint8ClampedArray(pixels * 3)
    for (let i = 0, k = 0, j = 0; i < pixels; i++, k += 3, j += 4) {
      d[k] = b[j]
      d[k + 1] = b[j + 1]
      d[k + 2] = b[j + 2]
    }
  }
  let mask: Uint8ClampedArray | null = null
  if (maskUrl) {
    const m = await loadImage(maskUrl)
    const mc = document.createElement('canvas')
    mc.width = w
    mc.height = h
    const mg = mc.getContext('2d', { willReadFrequently: true })!
    mg.drawImage(m, 0, 0, w, h)
    mask = mg.getImageData(0, 0, w, h).data
  }
  const dst = g.createImageData(w, h)
  darkeningToLayer(d, pixels, e, mask, dst.data, 4)
  g.putImageData(dst, 0, 0)
  return out
}
