import type { Command } from '../command'
import { floatOption, intOption, parseCommandArgs, requireOption } from '../args'
import { ProgressBar, formatDuration } from '../progress'
import { UserError } from '../../core/errors'
import type { ShadowModelConfig } from '../../engine/model/architecture'
import { resolveModelDir } from '../model-folder'

const usage = `usage: umbra train --data DIR --out RUN_DIR [options]

Trains the shadow model (GAN) on a folder of pairs (the pair format; a folder still being written
is fine: it is rescanned and incomplete samples are skipped). Seeds >= 9000000 are never used.

  --data DIR        pair folder (one sub-folder per sample); several: DIR1,DIR2
  --out RUN_DIR     run folder: checkpoint/, model/ (latest model folder), best/, loss-log.jsonl,
                    loss.png, previews/
  --steps N         total steps to reach (default 20000); a resumed run continues up to N
  --batch B         images per step (default 4)
  --resume          continue the run in RUN_DIR from its last checkpoint (after a crash or kill)
  --size S          model resolution for a new run (default 128; multiple of 16)
  --width W         scale the default channel widths by W (default 1)
  --lr X            generator learning rate (default 1e-3); --lr-d X discriminator (default 1e-5);
                    given with --resume, they replace the checkpoint's rates
  --lr-end X        anneal the generator's rate along a half cosine from --lr (on --resume: the
                    run's rate) at this start to X at --steps; kept by --resume (a new --lr-end on
                    --resume starts a new schedule from there)
  --gan-start N     steps of supervised training before the discriminator joins (default 500)
  --balance-cap R   fix the shadow-region weight ratio at R instead of the step schedule (30, then
                    down to 8 by step 10000): lower darkens less where the shadow is unsure;
                    kept by --resume
  --direction-weight W  weight of the direction output's loss (models with one; default 1)
  --attention-weight W  weight of the attention maps' loss (default 1)
  --attention-pos-cap R cap of the attention maps' positive-class weight (default 10; 1 = calibrated
                    maps); kept in the checkpoint like --balance-cap (--attention-weight and
                    --direction-weight are not: give them again with --resume)
  --checkpoint-minutes M   checkpoint interval (default 5)
  --model-minutes M        interval for writing RUN_DIR/model (tfjs + ONNX; default 15)
  --seed N          random seed of a new run (default 1)
  --init-from DIR   start a new run from a trained model folder (or run folder: its model/) at
                    its size: its weights are copied layer by layer and widened into the default
                    widths (--width W scales them) where those are at least as wide; it keeps
                    the model's frame (image or cast); layers it lacks (a new output) start fresh
  --shape-prior-from DIR   judge the darkening mixed with that model folder's silhouette prior
                    (its manifest's shapePrior), as the pipeline mixes it; the prior is written
                    into the new model's manifest (cast-frame models; kept by --resume)
  --train-only shadow      train the shadow block and its refinement only (kept by --resume)
  --backend NAME    force a tfjs backend: tensorflow-gpu, tensorflow, wasm, cpu
  --workers N       threads per step (default 1): N > 1 splits each batch over N-1 worker threads
                    plus this one (data-parallel, averaged gradients); worth it on idle cores only

Ctrl-C (or SIGTERM) writes a checkpoint and stops; run again with --resume to continue.`

const command: Command = {
  name: 'train',
  summary: 'train the shadow model on pairs',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        out: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        resume: { type: 'boolean' },
        size: { type: 'string' },
        width: { type: 'string' },
        lr: { type: 'string' },
        'lr-d': { type: 'string' },
        'lr-end': { type: 'string' },
        'gan-start': { type: 'string' },
        'balance-cap': { type: 'string' },
        'direction-weight': { type: 'string' },
        'attention-weight': { type: 'string' },
        'attention-pos-cap': { type: 'string' },
        'checkpoint-minutes': { type: 'string' },
        'model-minutes': { type: 'string' },
        seed: { type: 'string' },
        'init-from': { type: 'string' },
        'shape-prior-from': { type: 'string' },
        'train-only': { type: 'string' },
        backend: { type: 'string' },
        workers: { type: 'string' },
      },
      usage,
    )
    const dataDir = requireOption(values.data, 'data', usage)
    const outDir = requireOption(values.out, 'out', usage)
    const steps = intOption(values.steps, 'steps', 20000, 1)
    const batch = intOption(values.batch, 'batch', 4, 1, 64)
    const size = intOption(values.size, 'size', 128, 16, 512)
    if (size % 16 !== 0) throw new UserError('BAD_ARGS', `--size must be a multiple of 16 (the U-Nets have 5 levels), got ${size}`)
    const width = floatOption(values.width, 'width', 1, 0.25, 4)
    const lrG = floatOption(values.lr, 'lr', 1e-3, 1e-7, 1e-1)
    const lrD = floatOption(values['lr-d'], 'lr-d', 1e-5, 0, 1e-1)
    const lrEnd = values['lr-end'] === undefined ? undefined : floatOption(values['lr-end'], 'lr-end', 1e-5, 0, 1e-1)
    const ganStart = intOption(values['gan-start'], 'gan-start', 500, 0)
    const balanceCap = values['balance-cap'] === undefined ? undefined : floatOption(values['balance-cap'], 'balance-cap', 8, 1, 1000)
    if (balanceCap !== undefined) console.error(`umbra train: shadow-region balance cap fixed at ${balanceCap}`)
    const directionWeight = floatOption(values['direction-weight'], 'direction-weight', 1, 0, 100)
    const attentionWeight = floatOption(values['attention-weight'], 'attention-weight', 1, 0, 100)
    const attentionPositiveCap = values['attention-pos-cap'] === undefined ? undefined : floatOption(values['attention-pos-cap'], 'attention-pos-cap', 10, 1, 1000)
    const ckptMinutes = floatOption(values['checkpoint-minutes'], 'checkpoint-minutes', 5, 0.001, 600)
    const modelMinutes = floatOption(values['model-minutes'], 'model-minutes', 15, 0.05, 6000)
    const seed = intOption(values.seed, 'seed', 1, 0, 2 ** 32 - 1)
    const workers = intOption(values.workers, 'workers', 1, 1, 64)
    const trainOnly = values['train-only']
    if (trainOnly !== undefined && trainOnly !== 'shadow') throw new UserError('BAD_ARGS', `--train-only takes 'shadow', got '${trainOnly}'`)
    const backendName = values.backend as 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' | undefined
    if (backendName && !['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(backendName)) {
      throw new UserError('BAD_ARGS', `--backend must be tensorflow-gpu, tensorflow, wasm or cpu, got '${backendName}'`)
    }

    // Heavy modules only once the arguments are known to be good.
    const { initTfBackend } = await import('../../engine/backend')
    const { runTraining, DEFAULT_TRAIN_OPTIONS } = await import('../../engine/train/loop')
    const { DEFAULT_MODEL_CONFIG, configToGrowFrom } = await import('../../engine/model/architecture')
    const backend = await initTfBackend(backendName)
    console.error(`umbra train: backend ${backend.backend}: ${backend.detail}`)

    const scale = (ws: number[]) => ws.map((w) => Math.max(2, Math.round(w * width)))
    let modelConfig = {
      ...DEFAULT_MODEL_CONFIG,
      size,
      attentionWidths: scale(DEFAULT_MODEL_CONFIG.attentionWidths),
      shadowWidths: scale(DEFAULT_MODEL_CONFIG.shadowWidths),
      refineWidth: Math.max(2, Math.round(DEFAULT_MODEL_CONFIG.refineWidth * width)),
    }
    let initialGenerator: import('@tensorflow/tfjs').LayersModel | undefined
    if (values['init-from'] !== undefined) {
      if (values.size !== undefined) throw new UserError('BAD_ARGS', '--init-from keeps the size of the model it starts from: leave out --size')
      const { loadTfjsModel } = await import('../../engine/model-dir')
      const init = await loadTfjsModel(await resolveModelDir(values['init-from']))
      const a = init.manifest.architecture as Partial<ShadowModelConfig>
      try {
        modelConfig = configToGrowFrom(modelConfig, a, init.manifest.inputSize)
      } catch (err) {
        throw new UserError('MODEL_CORRUPT', `${values['init-from']}: ${(err as Error).message}`)
      }
      initialGenerator = init.model
      console.error(`umbra train: new run from ${values['init-from']} (${init.manifest.name}, ${init.manifest.training?.steps ?? '?'} steps)`)
    }

    let shapePrior: import('../../engine/shape-prior').ShapePrior | undefined
    if (values['shape-prior-from'] !== undefined) {
      const { readModelManifest } = await import('../../engine/model-dir')
      const manifest = await readModelManifest(await resolveModelDir(values['shape-prior-from']))
      if (!manifest.shapePrior) throw new UserError('BAD_ARGS', `${values['shape-prior-from']} has no shapePrior in its manifest`)
      shapePrior = manifest.shapePrior
      console.error(`umbra train: the darkening is judged mixed with the shape prior of ${values['shape-prior-from']}`)
    }

    const controller = new AbortController()
    let interrupts = 0
    const onSignal = (sig: string) => {
      interrupts++
      if (interrupts > 1) process.exit(130)
      console.error(`\numbra train: ${sig}: writing a checkpoint, then stopping (again to quit at once)`)
      controller.abort()
    }
    const onInt = () => onSignal('SIGINT')
    const onTerm = () => onSignal('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)

    let bar: ProgressBar | null = null
    let lastPlain = 0
    try {
      const result = await runTraining({
        ...DEFAULT_TRAIN_OPTIONS,
        dataDir,
        outDir,
        steps,
        batch,
        lrG,
        lrD,
        overrideLr: values.lr !== undefined || values['lr-d'] !== undefined,
        lrEnd,
        modelConfig,
        resume: values.resume ?? false,
        seed,
        ganStartStep: ganStart,
        lossWeights: { ...DEFAULT_TRAIN_OPTIONS.lossWeights, shadowBalanceCap: balanceCap, direction: directionWeight, attention: attentionWeight, attentionPositiveCap },
        workers,
        initialGenerator,
        initialWeightsByName: initialGenerator !== undefined,
        shapePrior,
        trainOnly,
        checkpointEverySeconds: ckptMinutes * 60,
        modelEverySeconds: modelMinutes * 60,
        backend: backend.backend,
        signal: controller.signal,
        log: (line) => {
          if (bar && process.stderr.isTTY) process.stderr.write('\n')
          console.error(`umbra train: ${line}`)
        },
        onProgress: (p) => {
          if (p.event !== 'step') return
          const l = p.losses
          const extra = `step ${p.step}/${p.totalSteps} ${(p.msPerStep / 1000).toFixed(2)}s/step loss ${l.total.toFixed(3)} (dark ${l.darkening.toFixed(4)} att ${l.attention.toFixed(3)} img ${l.image.toFixed(4)} grad ${l.gradient.toFixed(4)} adv ${l.adversarial.toFixed(3)} D ${l.discriminator.toFixed(3)}${l.direction ? ` dir ${l.direction.toFixed(3)}` : ''})`
          if (process.stderr.isTTY) {
            if (!bar) bar = new ProgressBar(p.totalSteps - p.startStep, 'train', 'steps')
            bar.update(p.step - p.startStep, extra)
            return
          }
          // In a log file (nohup), a line a minute with the ETA at the current pace.
          const now = Date.now()
          if (now - lastPlain < 60_000 && p.step < p.totalSteps) return
          lastPlain = now
          const eta = (p.totalSteps - p.step) * (p.msPerStep / 1000)
          console.error(`train ${new Date(now).toISOString().slice(11, 19)} ${extra} ETA ${formatDuration(eta)} pairs ${p.trainCount}`)
        },
      })
      const summary = [
        `${result.aborted ? 'stopped' : 'finished'} at step ${result.step} (${result.step - result.startStep} steps this session${result.resumed ? `, resumed from ${result.startStep}` : ''})`,
        `${(result.msPerStep / 1000).toFixed(2)} s/step, batch ${batch}, ${result.gflopPerImage.toFixed(3)} GFLOP per image forward`,
        `${result.trainCount} training pairs; total wall time ${formatDuration(result.wallTimeSeconds)}`,
        result.bestVal ? `best validation: darkening L1 ${result.bestVal.darkeningL1.toFixed(4)}, local RMSE ${result.bestVal.localRmse.toFixed(2)}` : '',
        `run folder ${outDir} (checkpoint/, model/, loss.png, previews/)`,
      ].filter(Boolean)
      console.log(summary.join('\n'))
      return result.aborted ? 130 : 0
    } finally {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
    }
  },
}

export default command
