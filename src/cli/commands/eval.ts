import { basename, join, resolve } from 'node:path'
import type { Command } from '../command'
import { intOption, parseCommandArgs, requireOption } from '../args'
import { ProgressBar } from '../progress'
import { UserError } from '../../core/errors'
import { resolveModelDir } from '../model-folder'

const usage = `usage: umbra eval --data DIR [--model DIR] [--baseline identity|geometric|all|none] [options]

Scores shadow generation on a folder of pairs at 256x256 (GRMSE, LRMSE, GSSIM, LSSIM with an
11x11 window, BER) for the model and the baselines; prints the table, writes per-sample.csv,
summary.json and comparison.png.

  --data DIR        pair folder (held-out seeds are used here; that is what they are for)
  --model DIR       a model folder, or a training run folder (its model/ is used)
  --baseline NAME   identity, geometric, all (default) or none
  --runtime NAME    auto (default), onnx or tfjs: how the model runs (the umbra shadow pipeline)
  --limit N         only the first N samples
  --light SOURCE    how a cast-frame model gets the shadow's direction: default (as \`umbra shadow\`
                    without --light: see its help), scene
                    (read from the model's attention maps), or
                    truth (the pair's own shadow: how good the shadow is when the direction is right)
  --out DIR         where the CSV / sheet go (default runs/eval/<data folder name>[-<model name>])`

const command: Command = {
  name: 'eval',
  summary: 'evaluate a model on pairs (GRMSE, LRMSE, SSIM, BER)',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        model: { type: 'string' },
        baseline: { type: 'string' },
        runtime: { type: 'string' },
        limit: { type: 'string' },
        light: { type: 'string' },
        out: { type: 'string' },
      },
      usage,
    )
    const dataDir = requireOption(values.data, 'data', usage)
    const limit = intOption(values.limit, 'limit', 0, 0)
    const baselineArg = values.baseline ?? 'all'
    const { BASELINES } = await import('../../engine/baselines')
    if (!['all', 'none', ...BASELINES].includes(baselineArg)) {
      throw new UserError('BAD_ARGS', `--baseline must be identity, geometric, all or none, got '${baselineArg}'`)
    }
    const runtime = (values.runtime ?? 'auto') as 'auto' | 'onnx' | 'tfjs'
    if (!['auto', 'onnx', 'tfjs'].includes(runtime)) throw new UserError('BAD_ARGS', `--runtime must be auto, onnx or tfjs, got '${runtime}'`)
    const lightFrom = values.light ?? 'default'
    if (lightFrom !== 'scene' && lightFrom !== 'truth' && lightFrom !== 'default') throw new UserError('BAD_ARGS', `--light must be scene, truth or default, got '${values.light}'`)
    const baselines = baselineArg === 'all' ? BASELINES : baselineArg === 'none' ? [] : [baselineArg as (typeof BASELINES)[number]]
    if (baselines.length === 0 && !values.model) throw new UserError('BAD_ARGS', 'nothing to evaluate: give --model or a baseline')

    const { evaluate, baselineMethod, formatTable, truthCastAngle } = await import('../../engine/evaluate')
    const methods = baselines.map(baselineMethod)
    let dispose: (() => Promise<void>) | null = null
    let modelLabel = ''
    if (values.model) {
      const modelDir = await resolveModelDir(values.model)
      const { createShadowEngine } = await import('../../engine/inference')
      const { generateShadow } = await import('../../engine/pipeline')
      const engine = await createShadowEngine({ modelDir, runtime })
      dispose = () => engine.dispose()
      modelLabel = basename(resolve(values.model))
      console.error(`umbra eval: model ${modelDir} (${engine.manifest.name}, ${engine.size}px, ${engine.manifest.training?.steps ?? 0} steps) on ${engine.runtime}/${engine.backend}`)
      methods.push({
        name: lightFrom === 'default' ? 'model' : `model (${lightFrom} light)`,
        predict: async (s) => {
          const castAngle = lightFrom === 'truth' ? (truthCastAngle(s) ?? undefined) : undefined
          return (await generateShadow(engine, { image: s.noShadow, mask: s.object }, { layer: false, castAngle, lightFromAttention: lightFrom === 'scene' })).composite
        },
      })
    }
    const outDir = values.out ?? join('runs', 'eval', `${basename(resolve(dataDir))}${modelLabel ? `-${modelLabel}` : ''}`)
    let bar: ProgressBar | null = null
    try {
      const result = await evaluate(dataDir, methods, outDir, {
        limit: limit || undefined,
        onProgress: (done, total) => {
          if (!bar) bar = new ProgressBar(total, 'eval', 'samples')
          bar.update(done)
        },
      })
      console.log(`${result.samples.length} samples from ${dataDir} at 256x256${result.skipped.length ? ` (${result.skipped.length} skipped: ${result.skipped.slice(0, 3).map((s) => `${s.id}: ${s.reason}`).join('; ')})` : ''}`)
      console.log(formatTable(result))
      console.log(`per-sample CSV, summary and comparison sheet: ${outDir}/`)
      return 0
    } finally {
      if (dispose) await dispose()
    }
  },
}

export default command
