import { availableParallelism } from 'node:os'
import type { Command } from '../command'
import { intOption, parseCommandArgs, requireOption } from '../args'
import { ProgressBar, formatDuration } from '../progress'
import { runSynthJob, MAX_SYNTH_SIZE, MIN_SYNTH_SIZE } from '../../jobs/synth-job'

const usage = `usage: umbra synth --out DIR --count N [--size 256] [--seed S] [--textures DIR] [--workers K]

Renders synthetic shadow pairs (the pair format: noshadow.png, shadow.png, object.png,
object-shadow.png, occluders.png, occluder-shadows.png, meta.json) into DIR/<seed>/.
Sample i uses seed S+i, so a seed always gives the same sample. Rerunning skips finished samples.

  --out DIR        output folder (created if missing)
  --count N        number of samples (seeds S .. S+N-1)
  --size PX        image size, square (default 256, ${MIN_SYNTH_SIZE}-${MAX_SYNTH_SIZE})
  --seed S         first seed (default 0; held-out evaluation uses 9000000 and up)
  --textures DIR   folder of photos (jpg/png/webp, searched recursively) used as surface textures;
                   subfolders ground/, wall/, background/, objects/ give photos a role.
                   Without it, procedural textures. See scripts/fetch-textures.sh.
  --workers K      worker threads (default: ${availableParallelism()}, the cores here; 0 = no threads)`

/** `--count -3` would read as two options; join it to `--count=-3` so the value check can say what is wrong. */
function joinNegativeNumbers(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = argv[i + 1]
    if (a.startsWith('--') && !a.includes('=') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`)
      i++
    } else out.push(a)
  }
  return out
}

const command: Command = {
  name: 'synth',
  summary: 'render synthetic shadow pairs (training data)',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      joinNegativeNumbers(argv),
      {
        out: { type: 'string' },
        count: { type: 'string' },
        size: { type: 'string' },
        seed: { type: 'string' },
        textures: { type: 'string' },
        workers: { type: 'string' },
      },
      usage,
    )
    const out = requireOption(values.out, 'out', usage)
    const count = intOption(requireOption(values.count, 'count', usage), 'count', 0, 1)
    const size = intOption(values.size, 'size', 256, MIN_SYNTH_SIZE, MAX_SYNTH_SIZE)
    const seed = intOption(values.seed, 'seed', 0, 0)
    const workers = intOption(values.workers, 'workers', availableParallelism(), 0, 256)
    const controller = new AbortController()
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(130)
      process.stderr.write('\nstopping after the samples in progress (Ctrl-C again to quit now)\n')
      controller.abort()
    }
    process.on('SIGINT', onSigint)
    let bar: ProgressBar | null = null
    try {
      const result = await runSynthJob({
        out,
        count,
        size,
        seed,
        textures: values.textures ?? null,
        workers,
        signal: controller.signal,
        onTextures: (set) => {
          const photos = set.textures.filter((t) => t.photo).length
          const what = set.source ? `${photos} photos from ${set.source} (+${set.textures.length - photos} procedural textures)` : `${set.textures.length} procedural textures`
          console.error(`umbra synth: ${what}${set.skipped.length ? ` (${set.skipped.length} files skipped: unreadable or too small)` : ''}`)
        },
        onProgress: (p) => {
          if (!bar) {
            if (p.skipped > 0) console.error(`umbra synth: ${p.skipped} of ${p.total} samples already in ${out}, skipping them`)
            bar = new ProgressBar(p.total - p.skipped, 'synth', 'samples')
          }
          bar.update(p.rendered)
        },
      })
      const rate = result.samplesPerSecond
      console.log(
        `${result.cancelled ? 'cancelled: ' : ''}rendered ${result.rendered} samples (${result.skipped} already there) in ${formatDuration(result.seconds)}: ` +
          `${rate.toFixed(2)} samples/s at ${size}x${size} with ${result.workers === 0 ? 'no worker threads' : `${result.workers} worker${result.workers > 1 ? 's' : ''}`} -> ${out}`,
      )
      return result.cancelled ? 130 : 0
    } finally {
      process.off('SIGINT', onSigint)
    }
  },
}

export default command
