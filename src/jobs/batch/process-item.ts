/**
 * One input of a batch, start to finish: read, decode, (place the cut-out), generate the shadow,
 * encode, write. Runs inside a batch worker (or in the job's own thread with --workers 0) next to
 * one warm engine. Any failure is caught and returned as the item's outcome: one bad file never
 * stops the batch. Every file is written atomically (temp file + rename), and nothing is written
 * once the job is cancelled.
 */
import sharp from 'sharp'
import type { RawImage } from '../../core/image'
import { decodeMask, decodeRgb, decodeRgba, encodeImage, probeImage } from '../../core/image'
import { readUserFile } from '../../core/assets'
import { writeFileAtomic } from '../../core/atomic'
import { UserError } from '../../core/errors'
import type { ShadowEngine } from '../../engine/inference'
import { generateShadow, lightOriginOf, placeCutout, type GenerateShadowResult, type ShadowInput } from '../../engine/pipeline'
import { resolvePlacement, visibleBox, type Placement } from './placement'
import { buildResultProject } from './project'
import type { ItemOutcome, ItemTimings, PlannedItem } from './types'

export interface ProcessorConfig {
  quality?: number
  layers?: boolean
  projects?: boolean
  background?: string
  place?: Placement
  thumbnailSize?: number
  appVersion: string
}

interface Background {
  bytes: Uint8Array
  image: RawImage
}

function asBuffer(a: Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

export class ItemProcessor {
  private background: Promise<Background> | null = null

  constructor(
    private readonly engine: ShadowEngine,
    private readonly config: ProcessorConfig,
  ) {}

  /** The background photo, decoded once per processor and shared by every cut-out (read-only). */
  private loadBackground(): Promise<Background> {
    if (!this.config.background) throw new UserError('BAD_ARGS', 'cut-out mode needs a background photo')
    const path = this.config.background
    this.background ??= (async () => {
      const bytes = await readUserFile(path)
      return { bytes, image: await decodeRgb(bytes).catch((err) => renamed(err, `the background ${path}`)) }
    })()
    return this.background
  }

  async process(item: PlannedItem, isCancelled: () => boolean): Promise<ItemOutcome> {
    const t0 = performance.now()
    const warnings: string[] = []
    try {
      // 1. read (the inputs are only ever read)
      const [bytes, maskBytes] = await Promise.all([readUserFile(item.input), item.mask ? readUserFile(item.mask) : undefined])
      const t1 = performance.now()
      if (isCancelled()) return { index: item.index, ok: false, cancelled: true, warnings }

      // 2. decode (+ place the cut-out)
      let input: ShadowInput
      let cutout: { bytes: Uint8Array; width: number; height: number; at: { x: number; y: number; scale: number } } | undefined
      let photoBytes = bytes
      if (item.kind === 'composite') {
        const [image, mask] = await Promise.all([
          decodeRgb(bytes).catch((err) => renamed(err, item.rel)),
          decodeMask(maskBytes as Uint8Array).catch((err) => renamed(err, `its mask ${item.rel.replace(/\.[^./]+$/, '')}.mask.png`)),
        ])
        input = { image, mask }
      } else {
        const [bg, cut] = await Promise.all([this.loadBackground(), decodeRgba(bytes).catch((err) => renamed(err, item.rel))])
        const box = visibleBox(cut.data, cut.width, cut.height)
        if (!box) throw new UserError('NOT_A_CUTOUT', `${item.rel} has no visible pixels (its alpha is empty)`)
        if (box.width === cut.width && box.height === cut.height && isOpaque(cut)) {
          throw new UserError('NOT_A_CUTOUT', `${item.rel} has no transparent pixels, so it is not a cut-out (give it a mask ${item.rel.replace(/\.[^./]+$/, '')}.mask.png to treat it as a composite)`)
        }
        const at = resolvePlacement(this.config.place ?? { type: 'anchor', anchor: 'bottom-centre', height: { unit: 'fraction', value: 0.5 }, margin: { unit: 'fraction', value: 0.05 }, offsetX: 0, offsetY: 0 }, bg.image.width, bg.image.height, cut.width, cut.height, box)
        input = await placeCutout(bg.image, cut, at)
        cutout = { bytes, width: cut.width, height: cut.height, at }
        photoBytes = bg.bytes
      }
      const t2 = performance.now()
      if (isCancelled()) return { index: item.index, ok: false, cancelled: true, warnings }

      // 3. shadow (the decoded photo is ours: darken it in place)
      const wantLayer = !!(this.config.layers || this.config.projects)
      const result = await generateShadow(this.engine, input, { layer: wantLayer, inPlace: true })
      warnings.push(...result.warnings)
      const t3 = performance.now()

      // 4. encode everything before writing anything: an encode failure leaves no file behind
      const files: { path: string; bytes: Uint8Array }[] = []
      const jobs: Promise<unknown>[] = [
        encodeImage(result.composite, { format: item.format, quality: this.config.quality }).then((b) => files.push({ path: item.outputs.image, bytes: b })),
      ]
      if (item.outputs.layer && result.layer) {
        const path = item.outputs.layer
        jobs.push(encodeFullLayer(result, input.image.width, input.image.height).then((b) => files.push({ path, bytes: b })))
      }
      if (item.outputs.project && result.layer) {
        const path = item.outputs.project
        jobs.push(
          (async () => {
            const info = await probeImage(photoBytes)
            const project = await buildResultProject({
              name: item.rel,
              photo: { bytes: photoBytes, info, name: item.kind === 'composite' ? item.rel : this.config.background ?? 'background' },
              object: cutout
                ? { kind: 'cutout', bytes: cutout.bytes, width: cutout.width, height: cutout.height, at: cutout.at, name: item.rel }
                : { kind: 'masked', image: result.composite, mask: input.mask, box: result.objectBox, name: item.rel },
              layer: result.layer!,
              objectMask: input.mask,
              objectBox: result.objectBox,
              generatedBy: { model: this.engine.manifest.name, backend: `${this.engine.runtime} (${this.engine.backend})` },
              lightOrigin: lightOriginOf(result.cast),
              appVersion: this.config.appVersion,
            })
            files.push({ path, bytes: project })
          })(),
        )
      }
      let thumbnail: Uint8Array | undefined
      if (this.config.thumbnailSize) {
        const side = this.config.thumbnailSize
        const img = result.composite
        jobs.push(
          sharp(asBuffer(img.data), { raw: { width: img.width, height: img.height, channels: img.channels } })
            .resize(side, side, { fit: 'inside' })
            .removeAlpha()
            .jpeg({ quality: 70 })
            .toBuffer()
            .then((b) => (thumbnail = new Uint8Array(b))),
        )
      }
      await Promise.all(jobs)
      const t4 = performance.now()
      if (isCancelled()) return { index: item.index, ok: false, cancelled: true, warnings }

      // 5. write: the picture last, so its presence means the others were written too
      files.sort((a, b) => (a.path === item.outputs.image ? 1 : b.path === item.outputs.image ? -1 : 0))
      for (const f of files) await writeFileAtomic(f.path, f.bytes)
      const t5 = performance.now()
      const timings: ItemTimings = { read: t1 - t0, decode: t2 - t1, shadow: t3 - t2, encode: t4 - t3, write: t5 - t4, total: t5 - t0 }
      for (const k of Object.keys(timings) as (keyof ItemTimings)[]) timings[k] = Math.round(timings[k] * 10) / 10
      return { index: item.index, ok: true, warnings, width: input.image.width, height: input.image.height, timings, thumbnail }
    } catch (err) {
      const code = err instanceof UserError ? err.code : 'INTERNAL'
      const reason = err instanceof UserError ? err.message : `unexpected error: ${(err as Error)?.message ?? String(err)}`
      return { index: item.index, ok: false, code, reason, warnings }
    }
  }
}

function isOpaque(img: RawImage): boolean {
  for (let i = 3; i < img.data.length; i += 4) if (img.data[i] !== 255) return false
  return true
}

/** The window-sized shadow layer placed on a transparent photo-sized canvas (stacks at 0,0 in any editor). */
async function encodeFullLayer(result: GenerateShadowResult, width: number, height: number): Promise<Buffer> {
  const layer = result.layer!
  const img = layer.image
  return sharp(asBuffer(img.data), { raw: { width: img.width, height: img.height, channels: 4 } })
    .extend({ left: layer.x, top: layer.y, right: width - layer.x - layer.width, bottom: height - layer.y - layer.height, background: { r: 255, g: 255, b: 255, alpha: 0 } })
    .png({ compressionLevel: 3 })
    .toBuffer()
}

/** Puts the item's name in a decoding error ("the image is damaged" -> "a.jpg is damaged"). */
function renamed(err: unknown, name: string): never {
  if (err instanceof UserError) throw new UserError(err.code, err.message.replace(/^the image/, name))
  throw err
}
