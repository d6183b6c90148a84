/**
 * Measures what sizes the shadow model: parameters, forward GFLOP per image and ms per training
 * step (generator + discriminator, the real trainStep) for a few configurations, on the backend
 * initTfBackend picks (or UMBRA_TF_BACKEND). Prints one JSON line per configuration.
 *
 *   npx tsx scripts/measure-train-step.ts            # the default and two alternatives
 *   npx tsx scripts/measure-train-step.ts '[{"size":96,"width":1}]'
 *
 * Timings depend on the machine's load: run it on an idle machine and compare within one run.
 */
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { buildShadowModel, DEFAULT_MODEL_CONFIG, modelGflops, type ShadowModelConfig } from '../src/engine/model/architecture'
import { buildDiscriminator, defaultDiscriminatorConfig } from '../src/engine/model/discriminator'
import { stackBatch, trainStep } from '../src/engine/train/loop'
import { DEFAULT_LOSS_WEIGHTS } from '../src/engine/train/losses'
import type { TrainExample } from '../src/engine/train/data'

interface Variant {
  size: number
  width: number
  batch?: number
}

function configFor(v: Variant): ShadowModelConfig {
  const scale = (ws: number[]) => ws.map((w) => Math.max(2, Math.round(w * v.width)))
  return {
    ...DEFAULT_MODEL_CONFIG,
    size: v.size,
    attentionWidths: scale(DEFAULT_MODEL_CONFIG.attentionWidths),
    shadowWidths: scale(DEFAULT_MODEL_CONFIG.shadowWidths),
    refineWidth: Math.max(2, Math.round(DEFAULT_MODEL_CONFIG.refineWidth * v.width)),
  }
}

function randomExample(s: number): TrainExample {
  const r = (n: number) => Float32Array.from({ length: n }, () => Math.random())
  const m = (n: number) => Float32Array.from({ length: n }, () => (Math.random() < 0.1 ? 1 : 0))
  return { input: r(s * s * 4), noShadow: r(s * s * 3), shadow: r(s * s * 3), attention: m(s * s * 2), objectShadow: m(s * s), object: m(s * s) }
}

async function main(): Promise<void> {
  const info = await initTfBackend()
  console.error(`backend ${info.backend}: ${info.detail}`)
  const variants: Variant[] = process.argv[2] ? (JSON.parse(process.argv[2]) as Variant[]) : [
    { size: 128, width: 1 },
    { size: 128, width: 1.5 },
    { size: 160, width: 1 },
  ]
  for (const v of variants) {
    const cfg = configFor(v)
    const batch = v.batch ?? 4
    const gen = buildShadowModel(cfg)
    const disc = buildDiscriminator(defaultDiscriminatorConfig(cfg.size))
    const optG = tf.train.adam(1e-4)
    const optD = tf.train.adam(1e-5)
    const gVars = gen.trainableWeights.map((w) => w.read() as tf.Variable)
    const dVars = disc.trainableWeights.map((w) => w.read() as tf.Variable)
    const examples = Array.from({ length: batch }, () => randomExample(cfg.size))
    const step = (gan: boolean) => trainStep(gen, disc, optG, optD, gVars, dVars, stackBatch(examples, cfg.size), DEFAULT_LOSS_WEIGHTS, gan)
    step(true) // warm-up: kernels, Adam slots
    const time = (gan: boolean, n: number) => {
      const t = performance.now()
      for (let i = 0; i < n; i++) step(gan)
      return (performance.now() - t) / n
    }
    const supervised = time(false, 3)
    const withGan = time(true, 3)
    const x = tf.randomUniform([1, cfg.size, cfg.size, 4])
    tf.tidy(() => gen.predict(x))
    const t = performance.now()
    for (let i = 0; i < 5; i++) tf.tidy(() => (gen.predict(x) as tf.Tensor[])[1].dataSync())
    const inferMs = (performance.now() - t) / 5
    x.dispose()
    const gflop = modelGflops(gen)
    console.log(
      JSON.stringify({
        size: cfg.size,
        attentionWidths: cfg.attentionWidths,
        shadowWidths: cfg.shadowWidths,
        params: gen.countParams(),
        gflopPerImage: Number(gflop.toFixed(3)),
        discGflopPerImage: Number(modelGflops(disc).toFixed(3)),
        batch,
        msPerStepSupervised: Math.round(supervised),
        msPerStepWithGan: Math.round(withGan),
        trainGflopPerS: Number(((gflop * 3 * batch) / (supervised / 1000)).toFixed(1)),
        tfjsInferMs: Math.round(inferMs),
      }),
    )
    gen.dispose()
    disc.dispose()
    optG.dispose()
    optD.dispose()
  }
}

await main()
