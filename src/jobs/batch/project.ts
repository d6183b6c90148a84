/**
 * The `.umbra` project of one batch result, written with the editor's own project-file writer
 * (encodeProject), so any result opens in the editor for refinement. Layers, bottom to top:
 *   photo   the original photo bytes (composite mode: the photo that already holds the object;
 *           cut-out mode: the background)
 *   shadow  the shadow as the contract's RGBA multiply layer, window-sized, placed where it was made
 *   object  composite mode: the object cut out of the photo by its mask (so it stays above the
 *           shadow and can be selected); cut-out mode: the cut-out file itself, scaled and placed
 * Rendering the project (src/core/compose.ts) gives the batch's picture back: the shadow layer's
 * multiply blend is exactly photo * (1 - a + a * c).
 */
import sharp from 'sharp'
import { basename } from 'node:path'
import type { AssetMeta, Composition, Layer, LightOrigin } from '../../shared/project'
import { assetIdFor, sha256Hex } from '../../core/assets'
import type { ImageInfo, RawImage } from '../../core/image'
import { encodeProject } from '../../core/project-file'
import type { Rect, ShadowLayer } from '../../engine/pipeline'
import { castOf, contactPoint, maskCentroid } from '../engine/generate'

const MIME = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const

export interface ResultProjectInput {
  name: string
  photo: { bytes: Uint8Array; info: ImageInfo; name: string }
  object:
    | { kind: 'masked'; image: RawImage; mask: RawImage; box: Rect; name: string }
    | { kind: 'cutout'; bytes: Uint8Array; width: number; height: number; at: { x: number; y: number; scale: number }; name: string }
  layer: ShadowLayer
  /** The object's mask at photo size and its box: where it stands, for the shadow's light geometry. */
  objectMask: RawImage
  objectBox: Rect
  /** Model and runtime that made the shadow (shown in the editor's Shadow panel). */
  generatedBy?: { model: string; backend: string }
  /** Where the shadow's direction came from (lightOriginOf the pipeline's cast), shown in the Light panel. */
  lightOrigin?: LightOrigin | null
  appVersion: string
}

function meta(bytes: Uint8Array, name: string, width: number, height: number, mime: AssetMeta['mime'], hasAlpha: boolean): AssetMeta {
  const sha = sha256Hex(bytes)
  return { id: assetIdFor(sha), name: basename(name), width, height, mime, hasAlpha, sha256: sha }
}

/** The object's pixels inside its mask's box, with the mask as alpha. */
async function maskedObjectPng(image: RawImage, mask: RawImage, box: Rect): Promise<Buffer> {
  const out = Buffer.alloc(box.width * box.height * 4)
  const c = image.channels
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) {
      const p = (box.y + y) * image.width + box.x + x
      const o = (y * box.width + x) * 4
      out[o] = image.data[p * c]
      out[o + 1] = image.data[p * c + 1]
      out[o + 2] = image.data[p * c + 2]
      out[o + 3] = mask.data[p] !== 0 ? 255 : 0
    }
  }
  return sharp(out, { raw: { width: box.width, height: box.height, channels: 4 } }).png({ compressionLevel: 6 }).toBuffer()
}

export async function buildResultProject(input: ResultProjectInput): Promise<Uint8Array> {
  const { photo, object, layer } = input
  const bytes = new Map<string, Uint8Array>()
  const metas = new Map<string, AssetMeta>()
  const add = (m: AssetMeta, b: Uint8Array) => {
    bytes.set(m.id, b)
    if (!metas.has(m.id)) metas.set(m.id, m)
    return m
  }
  const photoMeta = add(meta(photo.bytes, photo.name, photo.info.width, photo.info.height, MIME[photo.info.format], photo.info.hasAlpha), photo.bytes)
  const layerPng = await sharp(Buffer.from(layer.image.data.buffer, layer.image.data.byteOffset, layer.image.data.byteLength), {
    raw: { width: layer.width, height: layer.height, channels: 4 },
  })
    .png({ compressionLevel: 6 })
    .toBuffer()
  const stem = basename(input.name).replace(/\.[^.]+$/, '')
  const shadowMeta = add(meta(layerPng, `${stem}.shadow.png`, layer.width, layer.height, 'image/png', true), layerPng)

  let objectLayer: Layer
  const base = { visible: true, locked: false, opacity: 1 }
  if (object.kind === 'masked') {
    const png = await maskedObjectPng(object.image, object.mask, object.box)
    const m = add(meta(png, `${stem}.object.png`, object.box.width, object.box.height, 'image/png', true), png)
    objectLayer = {
      ...base,
      kind: 'object',
      id: 'object',
      name: stem,
      assetId: m.id,
      transform: { x: object.box.x + object.box.width / 2, y: object.box.y + object.box.height / 2, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false },
    }
  } else {
    const mime = object.name.toLowerCase().endsWith('.webp') ? 'image/webp' : 'image/png'
    const m = add(meta(object.bytes, object.name, object.width, object.height, mime, true), object.bytes)
    // placeCutout puts the scaled cut-out's top-left at (x, y); its size is round(w * scale).
    const w = Math.max(1, Math.round(object.width * object.at.scale))
    const h = Math.max(1, Math.round(object.height * object.at.scale))
    objectLayer = {
      ...base,
      kind: 'object',
      id: 'object',
      name: stem,
      assetId: m.id,
      transform: { x: object.at.x + w / 2, y: object.at.y + h / 2, scaleX: w / object.width, scaleY: h / object.height, angle: 0, flipX: false, flipY: false },
    }
  }
  // What the editor's generated shadows carry (ShadowSource): the object's place when the shadow
  // was made (moving it marks the shadow stale), and the contact point and cast direction the
  // light control steers about. The same measures as the editor's own generate.
  const shadowTransform = { x: layer.x + layer.width / 2, y: layer.y + layer.height / 2, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false }
  const centre = maskCentroid(input.objectMask.data, input.objectMask.width, input.objectBox)
  const contact = contactPoint(input.objectMask.data, input.objectMask.width, input.objectBox, centre)
  const cast = castOf(layer.image.data, layer.image.width, layer.image.height, { x: layer.x, y: layer.y, width: layer.width, height: layer.height }, contact, centre, input.objectBox)
  const layers: Layer[] = [
    { ...base, kind: 'photo', id: 'photo', name: basename(photo.name), assetId: photoMeta.id },
    {
      ...base,
      kind: 'shadow',
      id: 'shadow',
      name: `${stem} shadow`,
      objectId: 'object',
      assetId: shadowMeta.id,
      blend: 'multiply',
      transform: shadowTransform,
      source: {
        objectTransform: objectLayer.transform,
        generatedTransform: shadowTransform,
        contact,
        castAngle: cast.angle,
        castLength: cast.length,
        light: null,
        ...(input.lightOrigin ? { lightOrigin: input.lightOrigin } : {}),
        ...(input.generatedBy ? { model: input.generatedBy.model, backend: input.generatedBy.backend } : {}),
      },
    },
    objectLayer,
  ]
  // The writer stores each asset once (identical bytes share an id).
  const composition: Composition = { width: photo.info.width, height: photo.info.height, layers, assets: [...metas.values()] }
  return encodeProject(composition, (id) => bytes.get(id) as Uint8Array, input.appVersion)
}
