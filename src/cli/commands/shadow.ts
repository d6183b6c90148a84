import { join } from 'node:path'
import type { Command } from '../command'
import { parseCommandArgs, requireOption } from '../args'
import { UserError } from '../../core/errors'
import { decodeMask, decodeRgb, decodeRgba, encodeImage, formatFromPath, type RawImage } from '../../core/image'
import { writeFileAtomic } from '../../core/atomic'
import { parseAt } from '../../jobs/batch/placement'

const usage = `usage:
  umbra shadow --image PHOTO --mask MASK --out OUT [options]
  umbra shadow --image BACKGROUND --object CUTOUT.png --at X,Y[,SCALE] --out OUT [options]

Adds the object's shadow to the photo at full resolution.
  --image FILE       the photo (JPEG, PNG, WebP); with --mask it already contains the object
  --mask FILE        the object's mask, same size as the photo (any nonzero pixel = object)
  --object FILE      a cut-out with alpha, composited at --at X,Y (top-left, photo pixels), scaled by SCALE
  --out FILE         result; format from the extension (.jpg, .png, .webp)
  --layer FILE.png   also write the shadow alone as an RGBA multiply layer (window-sized; its position is printed)
  --attention DIR    also write the attention maps (occluders.png, occluder-shadows.png, photo-sized)
  --light DIRECTION  where the shadow falls: degrees (0 = right, 90 = down, in photo pixels), or
                     'scene' to read it from the attention maps (unreliable for now, see
                     docs/model.md); default (a model with a direction output, as the
                     shipped one): the mean shadow over the directions the model believes
                     in, that belief weighed by the light of any pairs it was fine-tuned
                     on, by the shadows already in the photo where they are clear and by
                     the object's shading; away from a sun in the photo when the scene
                     shows no shadows. A model without one: the scene's shadows where
                     they are clear, else the sun, else light from the upper left
  --model DIR        model folder (default resources/models/default)
  --runtime R        auto (default), onnx or tfjs
  --quality Q        JPEG/WebP quality 1-100 (default 92)
  --verbose          print the runtime that ran and the time of each stage`

const CAST_SOURCE_WORDS = {
  user: '--light',
  scene: 'read from the scene',
  model: "the model's estimate",
  sun: 'away from the sun in the photo',
  default: 'the default light, from the upper left',
} as const

const command: Command = {
  name: 'shadow',
  summary: 'add a shadow to one photo',
  usage,
  async run(argv) {
    const t0 = performance.now()
    const { values } = parseCommandArgs(
      argv,
      {
        image: { type: 'string' },
        mask: { type: 'string' },
        object: { type: 'string' },
        at: { type: 'string' },
        out: { type: 'string' },
        layer: { type: 'string' },
        attention: { type: 'string' },
        model: { type: 'string' },
        runtime: { type: 'string' },
        quality: { type: 'string' },
        light: { type: 'string' },
        verbose: { type: 'boolean' },
      },
      usage,
    )
    const imagePath = requireOption(values.image, 'image', usage)
    const outPath = requireOption(values.out, 'out', usage)
    if (values.mask !== undefined && values.object !== undefined) throw new UserError('BAD_ARGS', `give either --mask or --object, not both\n\n${usage}`)
    if (values.mask === undefined && values.object === undefined) throw new UserError('BAD_ARGS', `--mask or --object is required\n\n${usage}`)
    if (values.object !== undefined && values.at === undefined) throw new UserError('BAD_ARGS', `--object needs --at X,Y[,SCALE]\n\n${usage}`)
    const at = values.at !== undefined ? parseAt(values.at) : undefined
    const runtime = values.runtime ?? 'auto'
    if (runtime !== 'auto' && runtime !== 'onnx' && runtime !== 'tfjs') throw new UserError('BAD_ARGS', `--runtime must be auto, onnx or tfjs, got '${runtime}'`)
    const quality = values.quality === undefined ? undefined : Number(values.quality)
    if (quality !== undefined && !(Number.isInteger(quality) && quality >= 1 && quality <= 100)) {
      throw new UserError('BAD_ARGS', `--quality must be a whole number from 1 to 100, got '${values.quality}'`)
    }
    const lightFromScene = values.light === 'scene'
    const lightDeg = values.light === undefined || lightFromScene ? undefined : Number(values.light)
    if (lightDeg !== undefined && !(values.light?.trim() !== '' && Number.isFinite(lightDeg))) throw new UserError('BAD_ARGS', `--light must be an angle in degrees or 'scene', got '${values.light}'`)
    // Check output names before any work, so a typo costs nothing.
    const format = formatFromPath(outPath)
    if (values.layer !== undefined && formatFromPath(values.layer) !== 'png') throw new UserError('BAD_ARGS', '--layer must be a .png file (the layer has alpha)')

    // The image decode (sharp's threads) starts first, so it overlaps loading the engine's modules
    // and opening the model (this thread).
    const decoded = values.mask !== undefined ? Promise.all([decodeRgb(imagePath), decodeMask(values.mask)]) : Promise.all([decodeRgb(imagePath), decodeRgba(values.object as string)])
    decoded.catch(() => {}) // settled below, after the engine
    const modules = Promise.all([import('../../engine/inference'), import('../../engine/pipeline')])
    const enginePromise = modules.then(([{ createShadowEngine }]) => createShadowEngine({ modelDir: values.model, runtime }))
    const inputPromise = (async () => {
      const [image, second] = await decoded
      if (values.mask !== undefined) return { image, mask: second }
      const [, { placeCutout }] = await modules
      return placeCutout(image, second, at as { x: number; y: number; scale: number })
    })()
    // Both settle before either error is reported, so no work is left running behind an error.
    const [engineResult, inputResult] = await Promise.allSettled([enginePromise, inputPromise])
    if (engineResult.status === 'rejected') {
      if (inputResult.status === 'fulfilled' || !(inputResult.reason instanceof UserError)) throw engineResult.reason
      throw inputResult.reason
    }
    const engine = engineResult.value
    try {
      if (inputResult.status === 'rejected') throw inputResult.reason
      const input = inputResult.value
      const [, { generateShadow, renderAttentionMaps }] = await modules
      const t1 = performance.now()
      const castAngle = lightDeg === undefined ? undefined : (lightDeg * Math.PI) / 180
      const result = await generateShadow(engine, input, { layer: values.layer !== undefined, inPlace: true, castAngle, lightFromAttention: lightFromScene })
      if (values.light !== undefined && !result.cast) console.error('umbra shadow: warning: this model chooses the direction itself: --light was ignored')
      const t2 = performance.now()
      // Encode everything first, write after: an encode failure leaves no file behind.
      const files: { path: string; bytes: Uint8Array }[] = []
      const encodes: Promise<void>[] = [
        encodeImage(result.composite, { format, quality }).then((bytes) => void files.push({ path: outPath, bytes })),
      ]
      if (values.layer !== undefined && result.layer) {
        const layerPath = values.layer
        encodes.push(encodeImage(result.layer.image, { format: 'png' }).then((bytes) => void files.push({ path: layerPath, bytes })))
      }
      if (values.attention !== undefined) {
        const dir = values.attention
        encodes.push(
          renderAttentionMaps(result.attention, input.image.width, input.image.height).then(async (maps: { occluders: RawImage; occluderShadows: RawImage }) => {
            files.push({ path: join(dir, 'occluders.png'), bytes: await encodeImage(maps.occluders, { format: 'png' }) })
            files.push({ path: join(dir, 'occluder-shadows.png'), bytes: await encodeImage(maps.occluderShadows, { format: 'png' }) })
          }),
        )
      }
      await Promise.all(encodes)
      const t3 = performance.now()
      for (const f of files) await writeFileAtomic(f.path, f.bytes)
      const t4 = performance.now()

      for (const w of result.warnings) console.error(`umbra shadow: warning: ${w}`)
      console.log(`wrote ${outPath}`)
      if (values.layer !== undefined && result.layer) {
        const l = result.layer
        console.log(`wrote ${values.layer} (shadow layer ${l.width}x${l.height} at x=${l.x} y=${l.y})`)
      }
      if (values.attention !== undefined) console.log(`wrote ${join(values.attention, 'occluders.png')} and occluder-shadows.png`)
      if (values.verbose) {
        const ms = (v: number) => `${v.toFixed(0)} ms`
        const t = result.timings
        console.log(`runtime: ${engine.runtime} (${engine.detail}); model ${engine.manifest.name}, ${engine.size} px`)
        const deg = (a: number) => `${((a * 180) / Math.PI).toFixed(0)}`
        if (result.cast?.spread) {
          const prior = engine.manifest.training?.lightPrior
          const by = [
            ...(prior ? [`the light of its ${prior.pairs} fine-tuning pairs (${prior.angleDeg.toFixed(0)} degrees)`] : []),
            ...(result.cast.litFrom ? [`the object's shading (lit from the ${result.cast.litFrom})`] : []),
            ...(result.cast.sceneAngle !== undefined ? [`the shadows its maps found in the photo (${deg(result.cast.sceneAngle)} degrees)`] : []),
          ]
          const weighed = by.length > 0 ? `, weighed by ${by.join(' and by ')}` : ''
          console.log(`light not known: the shadow is the mean over the directions the model believes in${weighed} (${result.cast.spread.map((d) => `${deg(d.angle)} degrees ${(100 * d.weight).toFixed(0)}%`).join(', ')})`)
        } else if (result.cast) {
          console.log(`shadow cast at ${deg(result.cast.angle)} degrees (${CAST_SOURCE_WORDS[result.cast.source]}${result.cast.sun ? ` at ${result.cast.sun.x.toFixed(0)},${result.cast.sun.y.toFixed(0)}` : ''}${result.cast.confidence !== undefined ? `; model's direction confidence ${result.cast.confidence.toFixed(2)}` : ''})`)
        }
        console.log(`object ${result.objectBox.width}x${result.objectBox.height} at ${result.objectBox.x},${result.objectBox.y}; window ${result.window.width}x${result.window.height} at ${result.window.x},${result.window.y}`)
        console.log(
          `timings: load+decode ${ms(t1 - t0)}, crop ${ms(t.crop)}, infer ${ms(t.infer)}, upsample ${ms(t.upsample)}, composite ${ms(t.composite)}, ` +
            `encode ${ms(t3 - t2)}, write ${ms(t4 - t3)}, total in process ${ms(t4 - t0)} (since process start ${ms(performance.now())})`,
        )
      }
      return 0
    } finally {
      await engine.dispose()
    }
  },
}

export default command
