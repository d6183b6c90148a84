import sharp from 'sharp'
import type { ShadowLayer } from '../shared/project'
import { darkeningToLayer, editsChangePixels, shadowEdits, toDarkening } from '../shared/shadow'
import { UserError } from './errors'
import { openImage } from './image'

/**
 * A shadow layer's pixels with the user's edits applied (export side; the editor does the same
 * with src/shared/shadow.ts on a canvas): softness, density, tint and the erase/restore mask in
 * the image's own pixels, then the skew (Fabric's skewX: x' = x + tan(skew) * y about the centre),
 * so the result is placed like any layer (flip, scale, rotate, centre at x, y).
 */
export async function editedShadowPixels(layer: ShadowLayer, bytesOf: (id: string) => Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const e = shadowEdits(layer.edits)
  const pipeline = await openImage(bytesOf(layer.assetId))
  const { data, info } = await pipeline.ensureAlpha().raw().toBuffer({ resolveWithObject: true }).catch((err: Error) => {
    throw new UserError('CORRUPT_IMAGE', `the shadow image of '${layer.name}' is damaged (${err.message})`)
  })
  let rgba: Buffer = data
  const { width, height } = info
  const pixels = width * height
  if (editsChangePixels(e)) {
    let d: Uint8Array | Uint8ClampedArray = toDarkening(rgba, pixels)
    // Softness is in photo pixels; the image is scaled by the layer's transform.
    const sigma = e.softness / Math.max(1e-6, (layer.transform.scaleX + layer.transform.scaleY) / 2)
    if (sigma >= 0.3) {
      d = await sharp(Buffer.from(d.buffer, d.byteOffset, d.byteLength), { raw: { width, height, channels: 3 } }).blur(sigma).raw().toBuffer()
    }
    let mask: Buffer | null = null
    if (e.maskAssetId) {
      mask = await sharp(Buffer.from(bytesOf(e.maskAssetId))).removeAlpha().greyscale().resize(width, height, { fit: 'fill' }).raw().toBuffer()
    }
    const out = Buffer.alloc(pixels * 4)
    darkeningToLayer(d, pixels, e, mask, out)
    rgba = out
  }
  if (Math.abs(e.skewX) > 1e-3) {
    const t = Math.tan((e.skewX * Math.PI) / 180)
    const r = await sharp(rgba, { raw: { width, height, channels: 4 } })
      .affine([1, t, 0, 1], { background: { r: 255, g: 255, b: 255, alpha: 0 }, interpolator: 'bilinear' })
      .raw()
      .toBuffer({ resolveWithObject: true })
    return { data: r.data, width: r.info.width, height: r.info.height }
  }
  return { data: rgba, width, height }
}
