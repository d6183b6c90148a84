import { promises as fs } from 'node:fs'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import sharp from 'sharp'
import type { Command } from '../command'
import { intOption, parseCommandArgs } from '../args'
import { UserError } from '../../core/errors'
import { median } from '../../core/stats'
import { decodeMask, decodeRgb, encodeImage, type RawImage } from '../../core/image'
import type { ShadowEngine } from '../../engine/inference'
import { umbraRoot } from '../../engine/model-dir'

const usage = `usage: umbra bench [--model DIR] [--image PHOTO.jpg [--mask MASK.png]] [--runs N] [--threads T]

Measures the shadow engine on this machine:
  - which runtime and backend 'auto' picks, and the model's GFLOP per inference
  - median ms per inference at model resolution on every runtime available (onnxruntime, tfjs)
    and the achieved GFLOP/s
  - for reference, what onnxruntime reaches on a plain matrix product here (same threads), and the
    share of it the model reaches
  - the full pipeline on a 12-megapixel JPEG inside this (warm) process, stage by stage:
    decode (the photo and its mask at once), crop, infer, upsample, composite, encode
  - ms per training step (when the trainer provides a step benchmark)
  --model DIR    model folder (default resources/models/default; if none is installed, a freshly
                 initialised model of the current architecture is benchmarked, which costs the same)
  --image FILE   the 12 MP JPEG (default: generated from a real photo in ../shared/real-dev)
  --mask FILE    its object mask (default: the real photo's object mask, or a centred ellipse)
  --runs N       timed repetitions (default 20 inferences, 5 pipelines)
  --threads T    onnxruntime threads (default: all cores)`


/** A real photo to build the 12 MP test image from: ../shared/real-dev beside the checkout. */
function realDevSample(): string {
  return join(umbraRoot(), '..', 'shared', 'real-dev', 'desobav2_0')
}


async function timeInference(engine: ShadowEngine, runs: number): Promise<number> {
  const S = engine.size
  const batch = new Float32Array(S * S * 4)
  for (let i = 0; i < S * S; i++) {
    batch[i * 4] = (i % 97) / 97
    batch[i * 4 + 1] = (i % 89) / 89
    batch[i * 4 + 2] = (i % 83) / 83
    const x = i % S
    const y = Math.floor(i / S)
    batch[i * 4 + 3] = (x - S / 2) ** 2 + (y - S / 2) ** 2 < (S / 6) ** 2 ? 1 : 0
  }
  for (let i = 0; i < 3; i++) await engine.infer(batch, 1) // warm-up: allocations, JIT, caches
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = performance.now()
    await engine.infer(batch, 1)
    times.push(performance.now() - t)
  }
  return median(times)
}

/** A 12 MP test JPEG from a real 256 px photo: upscaled, with film grain so it encodes like a real photo. */
async function makeTestPhoto(dir: string): Promise<{ image: string; mask: string }> {
  const width = 4032
  const height = 3024
  const image = join(dir, 'bench-12mp.jpg')
  const mask = join(dir, 'bench-12mp-mask.png')
  const src = join(realDevSample(), 'noshadow.png')
  if (!existsSync(src)) throw new UserError('NO_TEST_PHOTO', `no --image given and no real photo at ${src} to build one from`)
  const grain = await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 }, noise: { type: 'gaussian', mean: 128, sigma: 24 } } })
    .raw()
    .toBuffer()
  const upscaled = await sharp(src).removeAlpha().resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer()
  for (let i = 0; i < upscaled.length; i++) upscaled[i] = Math.max(0, Math.min(255, upscaled[i] + ((grain[i] - 128) >> 2)))
  await sharp(upscaled, { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toFile(image)
  await sharp(join(realDevSample(), 'object.png')).resize(width, height, { fit: 'fill', kernel: 'nearest' }).greyscale().png().toFile(mask)
  return { image, mask }
}

function ellipseMask(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height)
  const cx = width / 2
  const cy = height / 2
  const rx = width / 8
  const ry = height / 4
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) data[y * width + x] = 255
  return { width, height, channels: 1, data }
}

/** A freshly initialised model of the current architecture (same cost as a trained one). */
async function freshModelDir(dir: string): Promise<string> {
  const tf = await import('@tensorflow/tfjs')
  const { initTfBackend } = await import('../../engine/backend')
  await initTfBackend()
  const arch = await import('../../engine/model/architecture')
  const { saveModelDir } = await import('../../engine/model-dir')
  const out = join(dir, 'fresh-model')
  const model = arch.buildShadowModel(arch.DEFAULT_MODEL_CONFIG)
  await saveModelDir(out, model, {
    name: 'fresh (untrained, for benchmarking)',
    inputSize: arch.DEFAULT_MODEL_CONFIG.size,
    architectureVersion: arch.ARCHITECTURE_VERSION,
    architecture: { ...arch.DEFAULT_MODEL_CONFIG },
  })
  model.dispose()
  void tf
  return out
}

/** Side of the square matrices of the reference product: 17 GFLOP each, long enough to time steadily. */
const MATMUL_SIZE = 2048

/** GFLOP/s of one float32 matrix product on onnxruntime with the engine's session settings (median of `runs`). */
async function matmulGflops(threads: number | undefined, runs: number): Promise<number> {
  const { onnx } = await import('../../engine/onnx/onnx-proto')
  const ort = await import('onnxruntime-node')
  const n = MATMUL_SIZE
  const square = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: n }, { dimValue: n }] } } } })
  const bytes = onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      producerName: 'umbra-bench',
      graph: { name: 'matmul', node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }], input: [square('a'), square('b')], output: [square('c')] },
    }),
  ).finish()
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Math.max(1, threads ?? availableParallelism()),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  })
  try {
    const data = new Float32Array(n * n)
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 0) / 2 ** 32 - 0.5
    const feeds = { a: new ort.Tensor('float32', data, [n, n]), b: new ort.Tensor('float32', data, [n, n]) }
    const times: number[] = []
    for (let r = 0; r < Math.min(runs, 10) + 2; r++) {
      const t = performance.now()
      const out = await session.run(feeds)
      if (r >= 2) times.push(performance.now() - t)
      for (const v of Object.values(out)) v.dispose?.()
    }
    return (2 * n * n * n) / 1e9 / (median(times) / 1000)
  } finally {
    await session.release()
  }
}

const command: Command = {
  name: 'bench',
  summary: 'measure inference and training speed',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      { model: { type: 'string' }, image: { type: 'string' }, mask: { type: 'string' }, runs: { type: 'string' }, threads: { type: 'string' } },
      usage,
    )
    const runs = intOption(values.runs, 'runs', 20, 1, 1000)
    const pipelineRuns = Math.max(1, Math.min(runs, values.runs === undefined ? 5 : runs))
    const threads = values.threads === undefined ? undefined : intOption(values.threads, 'threads', 1, 1, 256)
    const work = await fs.mkdtemp(join(tmpdir(), 'umbra-bench-'))
    try {
      const { createShadowEngine } = await import('../../engine/inference')
      const { defaultModelDir, readModelManifest } = await import('../../engine/model-dir')

      let modelDir = values.model
      if (modelDir === undefined) {
        modelDir = defaultModelDir()
        if (!existsSync(modelDir)) {
          console.log(`no model installed at ${modelDir}: benchmarking a freshly initialised model of the current architecture`)
          modelDir = await freshModelDir(work)
        }
      }
      const [load1] = loadavg()
      const cores = availableParallelism()
      console.log(`machine: ${cores} cores, load average ${load1.toFixed(1)}${load1 > cores * 0.5 ? ' (other work is running: timings below are inflated)' : ''}`)
      const manifest = await readModelManifest(modelDir)
      const gflop = manifest.onnx.flops / 1e9
      console.log(`model: ${manifest.name} (${manifest.architectureVersion}), ${manifest.inputSize} px, ${manifest.parameterCount.toLocaleString('en')} parameters`)
      console.log(`model cost: ${gflop.toFixed(3)} GFLOP per inference (counted from the layer shapes; multiply-add = 2)`)

      const auto = await createShadowEngine({ modelDir, threads })
      console.log(`auto runtime: ${auto.runtime} / ${auto.backend} (${auto.detail})`)
      await auto.dispose()

      console.log('')
      console.log(`inference at ${manifest.inputSize}x${manifest.inputSize}, batch 1, median of ${runs}:`)
      let onnxGflops: number | null = null
      for (const runtime of ['onnx', 'tfjs'] as const) {
        let engine: ShadowEngine
        try {
          engine = await createShadowEngine({ modelDir, runtime, threads })
        } catch (err) {
          console.log(`  ${runtime.padEnd(5)} unavailable: ${(err as Error).message}`)
          continue
        }
        try {
          const ms = await timeInference(engine, runtime === 'tfjs' ? Math.min(runs, 10) : runs)
          if (runtime === 'onnx') onnxGflops = gflop / (ms / 1000)
          console.log(`  ${runtime.padEnd(5)} ${engine.backend.padEnd(16)} ${ms.toFixed(1).padStart(7)} ms   ${(gflop / (ms / 1000)).toFixed(1).padStart(6)} GFLOP/s   (${engine.detail})`)
        } finally {
          await engine.dispose()
        }
      }
      // What this CPU reaches on a plain matrix product with the same library and threads, so the
      // model's rate reads against this machine rather than a figure measured elsewhere (hosts
      // differ, and a shared one varies from hour to hour).
      try {
        const peak = await matmulGflops(threads, runs)
        const share = onnxGflops !== null ? `: the model on onnxruntime reached ${((100 * onnxGflops) / peak).toFixed(0)}% of it` : ''
        console.log(`  reference: one ${MATMUL_SIZE}x${MATMUL_SIZE} matrix product on onnxruntime, same threads, ${peak.toFixed(1)} GFLOP/s${share}`)
      } catch (err) {
        console.log(`  matrix multiply: unavailable (${(err as Error).message})`)
      }

      console.log('')
      let imagePath = values.image
      let maskPath = values.mask
      if (imagePath === undefined) {
        ;({ image: imagePath, mask: maskPath } = await makeTestPhoto(work))
        console.log(`12 MP test photo generated from ${join(realDevSample(), 'noshadow.png')} (upscaled, with grain)`)
      }
      const imageBytes = await fs.readFile(imagePath)
      const { generateShadow } = await import('../../engine/pipeline')
      const engine = await createShadowEngine({ modelDir, threads })
      try {
        // The photo and its mask decode at once, as `umbra shadow` decodes them (sharp's threads).
        const rows: Record<string, number[]> = { decode: [], crop: [], infer: [], upsample: [], composite: [], encode: [], total: [] }
        const cpuRows: Record<string, number[]> = { decode: [], crop: [], infer: [], upsample: [], composite: [], encode: [], total: [] }
        let info = ''
        for (let r = 0; r < pipelineRuns + 1; r++) {
          const c0 = process.cpuUsage()
          const cpuAt = () => {
            const u = process.cpuUsage(c0)
            return (u.user + u.system) / 1000
          }
          const t0 = performance.now()
          const [image, maskFromFile] = await Promise.all([decodeRgb(imageBytes), maskPath !== undefined ? decodeMask(maskPath) : null])
          const mask = maskFromFile ?? ellipseMask(image.width, image.height)
          const t2 = performance.now()
          const k2 = cpuAt()
          const result = await generateShadow(engine, { image, mask }, { layer: false, inPlace: true })
          const t3 = performance.now()
          const k3 = cpuAt()
          const jpeg = await encodeImage(result.composite, { format: 'jpeg' })
          const t4 = performance.now()
          const k4 = cpuAt()
          if (r === 0) {
            info = `${image.width}x${image.height} (${((image.width * image.height) / 1e6).toFixed(1)} MP), window ${result.window.width}x${result.window.height}, JPEG ${(imageBytes.length / 1e6).toFixed(1)} MB in, ${(jpeg.length / 1e6).toFixed(1)} MB out`
            continue // warm-up
          }
          rows.decode.push(t2 - t0)
          rows.crop.push(result.timings.crop)
          rows.infer.push(result.timings.infer)
          rows.upsample.push(result.timings.upsample)
          rows.composite.push(result.timings.composite)
          rows.encode.push(t4 - t3)
          rows.total.push(t4 - t0)
          cpuRows.decode.push(k2)
          for (const stage of ['crop', 'infer', 'upsample', 'composite'] as const) cpuRows[stage].push(result.cpuTimings[stage])
          cpuRows.encode.push(k4 - k3)
          cpuRows.total.push(k4)
        }
        console.log(`full pipeline, warm process, ${engine.runtime}, median of ${pipelineRuns}: ${info}`)
        console.log(`  ${'stage'.padEnd(12)} ${'wall'.padStart(6)}    ${'CPU (all threads)'}`)
        for (const [name, xs] of Object.entries(rows)) console.log(`  ${name.padEnd(12)} ${median(xs).toFixed(0).padStart(6)} ms ${median(cpuRows[name]).toFixed(0).padStart(6)} ms`)
        console.log('  (upsample = Mitchell to 4x model size; the last bilinear stage is fused into composite)')
      } finally {
        await engine.dispose()
      }

      console.log('')
      console.log(`training step: ${await trainStepLine(Math.min(runs, 5))}`)
      return 0
    } finally {
      await fs.rm(work, { recursive: true, force: true })
    }
  },
}

/**
 * ms per training step of the default configuration (generator + discriminator step, GAN on, the
 * default batch) on the tfjs backend training would use, with synthetic data: the trainer's own
 * public functions (buildShadowModel, buildDiscriminator, stackBatch, trainStep), nothing re-implemented.
 */
async function trainStepLine(steps: number): Promise<string> {
  const tf = await import('@tensorflow/tfjs')
  const { initTfBackend } = await import('../../engine/backend')
  const arch = await import('../../engine/model/architecture')
  const disc = await import('../../engine/model/discriminator')
  const loop = await import('../../engine/train/loop')
  const info = await initTfBackend()
  const config = loop.DEFAULT_TRAIN_OPTIONS.modelConfig
  const batchSize = loop.DEFAULT_TRAIN_OPTIONS.batch
  const S = config.size
  const generator = arch.buildShadowModel(config)
  const discriminator = disc.buildDiscriminator(disc.defaultDiscriminatorConfig(S))
  const optG = tf.train.adam(loop.DEFAULT_TRAIN_OPTIONS.lrG, 0.5, 0.999)
  const optD = tf.train.adam(loop.DEFAULT_TRAIN_OPTIONS.lrD, 0.5, 0.999)
  const gVars = generator.trainableWeights.map((w) => w.read() as import('@tensorflow/tfjs').Variable)
  const dVars = discriminator.trainableWeights.map((w) => w.read() as import('@tensorflow/tfjs').Variable)
  const n = S * S
  const wave = (len: number, k: number) => Float32Array.from({ length: len }, (_, i) => 0.5 + 0.4 * Math.sin(i * k))
  const box = Float32Array.from({ length: n }, (_, i) => (Math.abs((i % S) - S / 2) < S / 8 && Math.abs(Math.floor(i / S) - S / 2) < S / 4 ? 1 : 0))
  const example = () => ({
    input: wave(n * 4, 0.013).map((v, i) => (i % 4 === 3 ? box[i >> 2] : v)),
    noShadow: wave(n * 3, 0.013),
    shadow: wave(n * 3, 0.011),
    attention: wave(n * 2, 0.007).map((v) => (v > 0.5 ? 1 : 0)),
    objectShadow: box,
    object: box,
  })
  const examples = Array.from({ length: batchSize }, example)
  const times: number[] = []
  try {
    for (let i = 0; i < steps + 2; i++) {
      const batch = loop.stackBatch(examples, S)
      const t = performance.now()
      loop.trainStep(generator, discriminator, optG, optD, gVars, dVars, batch, loop.DEFAULT_TRAIN_OPTIONS.lossWeights, true)
      if (i >= 2) times.push(performance.now() - t) // two warm-up steps
    }
  } finally {
    generator.dispose()
    discriminator.dispose()
    optG.dispose()
    optD.dispose()
  }
  return `${median(times).toFixed(0)} ms per step (median of ${steps}; batch ${batchSize} at ${S} px, generator + discriminator, tfjs ${info.backend})`
}

export default command
