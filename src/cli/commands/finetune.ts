import type { Command } from '../command'
import { floatOption, intOption, parseCommandArgs, requireOption } from '../args'
import { ProgressBar, formatDuration } from '../progress'
import { UserError } from '../../core/errors'

const usage = `usage: umbra finetune --pairs DIR --out MODEL_DIR [options]

Fine-tunes a shadow model on your own pairs: every pair is checked first (rejected ones are listed
with reasons and never used), a validation split is held out, and training stops early when
validation stops improving. The result is a model folder with its metadata (base model, pairs,
steps, validation before and after); 'umbra models import MODEL_DIR' adds it to your models.

Pairs: the pair format (one folder per pair: noshadow.png, shadow.png, object.png, optional
object-shadow.png, occluders.png, occluder-shadows.png) or a flat folder of NAME.noshadow.*,
NAME.shadow.*, NAME.mask.png. A missing object-shadow mask is derived from the difference of the
two pictures near the object; missing occluder masks are left out of the loss.

  --pairs DIR        folder of pairs
  --out MODEL_DIR    the fine-tuned model folder (written at the end, atomically)
  --from MODEL_DIR   model to start from (default: the active model, see 'umbra models')
  --steps N          total steps (default 600); a resumed run continues up to N
  --batch B          pairs per step (default 4)
  --lr X             generator learning rate (default 1e-4)
  --resume           continue the run in MODEL_DIR.run (after Ctrl-C, a crash or a restart)
  --name NAME        model name in the manifest (default: the folder name)
  --run DIR          run folder (default MODEL_DIR.run): checkpoint, previews, loss plot
  --val-fraction F   share of pairs held out for validation (default 0.2)
  --validate-every N validate and checkpoint every N steps (default 50)
  --patience N       stop after N validations without improvement (default 4)
  --minutes M        stop after M minutes (checks included) and save the best model so far
  --check            only check the pairs and print the report
  --backend NAME     force a tfjs backend: tensorflow-gpu, tensorflow, wasm, cpu

Ctrl-C writes a checkpoint and stops; run again with --resume to continue.`

function fmt(v: number | undefined, digits = 2): string {
  return v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits)
}

function change(before?: number, after?: number): string {
  if (before === undefined || after === undefined || before === 0) return '-'
  const pct = ((after - before) / before) * 100
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`
}

const command: Command = {
  name: 'finetune',
  summary: 'fine-tune a shadow model on your own pairs',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        pairs: { type: 'string' },
        out: { type: 'string' },
        from: { type: 'string' },
        steps: { type: 'string' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        resume: { type: 'boolean' },
        name: { type: 'string' },
        run: { type: 'string' },
        'val-fraction': { type: 'string' },
        'validate-every': { type: 'string' },
        patience: { type: 'string' },
        minutes: { type: 'string' },
        check: { type: 'boolean' },
        backend: { type: 'string' },
      },
      usage,
    )
    const resume = values.resume ?? false
    const pairsDir = resume ? (values.pairs ?? '') : requireOption(values.pairs, 'pairs', usage)
    const checkOnly = values.check ?? false
    const outDir = checkOnly ? (values.out ?? '') : requireOption(values.out, 'out', usage)
    // A resume without --steps continues up to the run's own step count.
    const steps = values.steps === undefined && resume ? undefined : intOption(values.steps, 'steps', 600, 1)
    const batch = intOption(values.batch, 'batch', 4, 1, 64)
    const lr = floatOption(values.lr, 'lr', 1e-4, 1e-7, 1e-1)
    const valFraction = floatOption(values['val-fraction'], 'val-fraction', 0.2, 0, 0.5)
    const validateEvery = intOption(values['validate-every'], 'validate-every', 50, 1)
    const patience = intOption(values.patience, 'patience', 4, 1)
    const minutes = floatOption(values.minutes, 'minutes', 0, 0, 100000)
    const backendName = values.backend as 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu' | undefined
    if (backendName && !['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'].includes(backendName)) {
      throw new UserError('BAD_ARGS', `--backend must be tensorflow-gpu, tensorflow, wasm or cpu, got '${backendName}'`)
    }

    const { JsonFileBackend, SettingsService, defaultSettingsPath } = await import('../../core/settings')
    const { ModelStore } = await import('../../engine/model-store')
    const { readModelManifest } = await import('../../engine/model-dir')
    let fromDir = values.from
    if (!fromDir && !resume) {
      const active = await new ModelStore(new SettingsService(new JsonFileBackend(defaultSettingsPath()))).activeDir()
      fromDir = active.dir
      if (active.fellBack) console.error(`umbra finetune: the active model is missing or damaged; starting from the default`)
      console.error(`umbra finetune: starting from the active model '${active.name}' (${active.dir})`)
    }

    if (checkOnly) {
      const { checkPairFolder, formatPairReport } = await import('../../jobs/finetune/pairs')
      const size = fromDir ? (await readModelManifest(fromDir).catch(() => null))?.inputSize ?? 128 : 128
      const report = await checkPairFolder(pairsDir, Math.round(size * 1.25))
      console.log(formatPairReport(report))
      for (const p of report.accepted) if (p.derived.length) console.log(`  ${p.id}: ${p.derived.join('; ')}`)
      return report.accepted.length > 0 ? 0 : 2
    }

    const { runFinetune } = await import('../../jobs/finetune/job')
    const controller = new AbortController()
    let interrupts = 0
    const onSignal = (sig: string) => {
      interrupts++
      if (interrupts > 1) process.exit(130)
      console.error(`\numbra finetune: ${sig}: writing a checkpoint, then stopping (again to quit at once)`)
      controller.abort('pause')
    }
    const onInt = () => onSignal('SIGINT')
    const onTerm = () => onSignal('SIGTERM')
    process.on('SIGINT', onInt)
    process.on('SIGTERM', onTerm)

    let bar: ProgressBar | null = null
    let startStep = 0
    const line = (text: string) => {
      if (bar && process.stderr.isTTY) process.stderr.write('\n')
      console.error(`umbra finetune: ${text}`)
    }
    try {
      const result = await runFinetune({
        pairsDir,
        outDir,
        fromModelDir: fromDir ?? '',
        runDir: values.run,
        name: values.name,
        steps,
        batch,
        lr,
        resume,
        valFraction,
        validateEverySteps: validateEvery,
        patience,
        maxSeconds: minutes * 60,
        backend: backendName,
        signal: controller.signal,
        onEvent: (e) => {
          switch (e.type) {
            case 'log':
              line(e.message)
              break
            case 'checked': {
              const r = e.report
              const train = r.accepted.filter((a) => a.split !== 'validation').length
              line(`${r.accepted.length} pair(s) accepted (${train} training, ${r.accepted.length - train} validation), ${r.rejected.length} rejected in ${r.root}`)
              if (r.derivedObjectShadow) line(`object-shadow mask derived from the picture difference for ${r.derivedObjectShadow} pair(s)`)
              if (r.unknownOccluders) line(`occluder masks missing for ${r.unknownOccluders} pair(s): left out of the attention loss`)
              for (const rej of r.rejected) line(`rejected ${rej.id}: ${rej.reasons.join('; ')}`)
              break
            }
            case 'started':
              line(`${e.resumed ? 'resuming' : 'starting'} at step ${e.step} of ${e.totalSteps} on ${e.backend}${e.before ? `; base model validation LRMSE ${fmt(e.before.localRmse)}, GRMSE ${fmt(e.before.globalRmse)}` : ''}`)
              startStep = e.step
              bar = new ProgressBar(e.totalSteps - e.step, 'finetune', 'steps')
              break
            case 'step': {
              const l = e.losses
              bar?.update(e.step - startStep, `step ${e.step}/${e.totalSteps} loss ${l.total.toFixed(3)} (dark ${l.darkening.toFixed(4)} img ${l.image.toFixed(4)} adv ${l.adversarial.toFixed(3)} D ${l.discriminator.toFixed(3)})`)
              break
            }
            case 'validation':
              line(`step ${e.step}: validation LRMSE ${fmt(e.val.localRmse)}, GRMSE ${fmt(e.val.globalRmse)}, darkening L1 ${e.val.darkeningL1.toFixed(4)}${e.best ? ' (best so far)' : ''}`)
              break
            case 'checkpoint':
              break
          }
        },
      })
      if (result.status === 'paused') {
        console.log(`paused at step ${result.lastStep}; run again with --resume to continue (run folder ${result.runDir})`)
        return 130
      }
      const b = result.before
      const a = result.after
      const rows = [
        ['', 'base', 'fine-tuned', 'change'],
        ['LRMSE', fmt(b?.localRmse), fmt(a?.localRmse), change(b?.localRmse, a?.localRmse)],
        ['GRMSE', fmt(b?.globalRmse), fmt(a?.globalRmse), change(b?.globalRmse, a?.globalRmse)],
        ['darkening L1', fmt(b?.darkeningL1, 4), fmt(a?.darkeningL1, 4), change(b?.darkeningL1, a?.darkeningL1)],
      ]
      const table = rows.map((r) => r[0].padEnd(14) + r.slice(1).map((c) => c.padStart(12)).join('')).join('\n')
      console.log(
        [
          `${result.status === 'stopped-early' ? 'stopped early (validation no longer improving)' : result.status === 'time-limit' ? 'stopped at the time limit' : 'finished'} at step ${result.lastStep}; saved the model of step ${result.savedStep} (best validation) to ${result.outDir}`,
          `base model: ${result.baseModel}; ${result.trainCount} training pairs, ${result.valCount} validation pairs`,
          `${result.stepsPerSecond.toFixed(2)} steps/s (${result.stepsThisSession} steps this session, batch ${batch}, backend ${result.backend}); total wall time ${formatDuration(result.wallTimeSeconds)}`,
          '',
          `validation (${result.valCount} pairs, model resolution, RMSE on 0-255):`,
          table,
          ...result.warnings.map((w) => `warning: ${w}`),
        ].join('\n'),
      )
      return 0
    } finally {
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
    }
  },
}

export default command
