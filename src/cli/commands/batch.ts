import type { Command } from '../command'
import { intOption, parseCommandArgs, requireOption } from '../args'
import { formatDuration, ProgressBar } from '../progress'
import { UserError } from '../../core/errors'
import { appVersion } from '../../app/node-host'
import { DEFAULT_PLACE_RULE, parsePlacement, PauseControl, runBatch, type BatchEvent } from '../../jobs/batch'

const usage = `usage:
  umbra batch --in DIR --out DIR [options]                                  composites: NAME.jpg + NAME.mask.png
  umbra batch --in DIR --out DIR --background FILE [--place RULE] [options] cut-outs (PNG/WebP with alpha) on one photo

Adds shadows to every image of a folder. Inputs are never modified; every output is written to a
temp file and renamed; a rerun resumes (finished inputs are skipped unless --force).
  --in DIR           the input folder
  --out DIR          the output folder (results, report.csv, report.json); must differ from --in
  --background FILE  cut-out mode: the photo each cut-out is placed on
  --place RULE       where cut-outs go (default ${DEFAULT_PLACE_RULE}):
                       X,Y[,SCALE]                       top-left in photo pixels, and scale
                       ANCHOR[,height=H|width=W|scale=S][,margin=M][,offset=DX:DY]
                       ANCHOR: top-left ... bottom-centre ... bottom-right, centre; H, W, M: 40% or 800px
  --recursive        walk subfolders too, keeping their structure in the output
  --format F         png or jpeg (default: same as the input; cut-outs: same as the background)
  --quality Q        JPEG/WebP quality 1-100 (default 92)
  --layers           also write NAME.shadow.png: the shadow alone, an RGBA multiply layer, photo-sized
  --projects         also write NAME.umbra: photo, object and shadow layer, to refine in the editor
  --workers K        worker threads, each with its own engine (default: number of cores; 0 = none)
  --in-flight N      images in flight per worker (default 2)
  --threads T        onnxruntime threads per engine (default: cores / workers)
  --sharp-threads N  libvips threads per image operation (default 1 with several workers)
  --quiet            no progress on stderr (the summary still goes to stdout)
  --force            redo inputs that an earlier run finished
  --model DIR        model folder (default resources/models/default)
  --runtime R        auto (default), onnx or tfjs
Exit code: 0 when nothing failed, 1 when some input failed, 2 on a usage error, 130 when interrupted.
While it runs on a terminal: p pauses, r resumes, Ctrl+C cancels (finished files stay; rerun to resume).`

const command: Command = {
  name: 'batch',
  summary: 'add shadows to a whole folder (composites with masks, or cut-outs on a background)',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        in: { type: 'string' },
        out: { type: 'string' },
        background: { type: 'string' },
        place: { type: 'string' },
        recursive: { type: 'boolean' },
        format: { type: 'string' },
        quality: { type: 'string' },
        layers: { type: 'boolean' },
        projects: { type: 'boolean' },
        workers: { type: 'string' },
        'in-flight': { type: 'string' },
        threads: { type: 'string' },
        'sharp-threads': { type: 'string' },
        force: { type: 'boolean' },
        model: { type: 'string' },
        runtime: { type: 'string' },
        quiet: { type: 'boolean' },
      },
      usage,
    )
    const inDir = requireOption(values.in, 'in', usage)
    const outDir = requireOption(values.out, 'out', usage)
    const format = values.format?.toLowerCase().replace(/^jpg$/, 'jpeg')
    if (format !== undefined && format !== 'png' && format !== 'jpeg') throw new UserError('BAD_ARGS', `--format must be png or jpeg, got '${values.format}'`)
    const runtime = values.runtime ?? 'auto'
    if (runtime !== 'auto' && runtime !== 'onnx' && runtime !== 'tfjs') throw new UserError('BAD_ARGS', `--runtime must be auto, onnx or tfjs, got '${runtime}'`)
    if (values.place !== undefined && values.background === undefined) throw new UserError('BAD_ARGS', `--place needs --background FILE\n\n${usage}`)
    const place = values.background !== undefined ? parsePlacement(values.place ?? DEFAULT_PLACE_RULE) : undefined
    const quality = values.quality === undefined ? undefined : intOption(values.quality, 'quality', 92, 1, 100)

    const controller = new AbortController()
    const pause = new PauseControl()
    let interrupted = false
    const onSigint = () => {
      if (interrupted) process.exit(130) // second Ctrl+C: leave now (outputs are still whole files)
      interrupted = true
      process.stderr.write('\numbra batch: cancelling (finishing the files being written; Ctrl+C again to quit at once)\n')
      controller.abort()
    }
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)
    const stdin = process.stdin
    const keys = stdin.isTTY && process.stderr.isTTY
    const onKey = (data: Buffer) => {
      const k = data.toString()
      if (k === '\u0003') onSigint()
      else if (k === 'p' && !pause.paused) {
        pause.pause()
        process.stderr.write('\numbra batch: paused (r resumes)\n')
      } else if (k === 'r' && pause.paused) pause.resume()
    }
    if (keys) {
      stdin.setRawMode(true)
      stdin.resume()
      stdin.on('data', onKey)
    }

    let bar: ProgressBar | null = null
    const onEvent = (e: BatchEvent) => {
      if (values.quiet) return
      if (e.type === 'planned') {
        const parts = [`${e.total} inputs`, `${e.toProcess} to process`]
        if (e.alreadyDone) parts.push(`${e.alreadyDone} already done`)
        if (e.skipped - e.alreadyDone > 0) parts.push(`${e.skipped - e.alreadyDone} skipped`)
        if (e.failed) parts.push(`${e.failed} failed before starting`)
        console.error(`umbra batch: ${parts.join(', ')}`)
        if (e.toProcess > 0) bar = new ProgressBar(e.toProcess, 'batch', 'img')
      } else if (e.type === 'engine') {
        console.error(`umbra batch: ${e.workers ? `${e.workers} worker${e.workers > 1 ? 's' : ''}` : 'in-process'}, ${e.runtime} (${e.detail})`)
      } else if (e.type === 'item' && e.row.status === 'failed' && !process.stderr.isTTY) {
        console.error(`umbra batch: failed ${e.row.input}: ${e.row.reason}`)
      } else if (e.type === 'progress') {
        bar?.update(e.processed, e.failed ? `(${e.failed} failed)` : '')
      }
    }

    try {
      const summary = await runBatch(
        {
          inDir,
          outDir,
          background: values.background,
          place,
          recursive: !!values.recursive,
          format: format as 'png' | 'jpeg' | undefined,
          quality,
          layers: !!values.layers,
          projects: !!values.projects,
          force: !!values.force,
          modelDir: values.model,
          runtime,
          workers: values.workers === undefined ? undefined : intOption(values.workers, 'workers', 2, 0, 64),
          inFlight: values['in-flight'] === undefined ? undefined : intOption(values['in-flight'], 'in-flight', 2, 1, 16),
          threadsPerEngine: values.threads === undefined ? undefined : intOption(values.threads, 'threads', 1, 1, 64),
          sharpConcurrency: values['sharp-threads'] === undefined ? undefined : intOption(values['sharp-threads'], 'sharp-threads', 1, 1, 64),
        },
        { signal: controller.signal, pause, onEvent, appVersion: appVersion() },
      )
      // The summary goes to stdout (scripts read it); progress went to stderr.
      const s = summary
      console.log(
        `${s.cancelled ? 'cancelled' : 'finished'}: ${s.done} done, ${s.skipped} skipped, ${s.failed} failed of ${s.total} inputs` +
          (s.processed ? `; ${s.processed} processed in ${formatDuration(s.wallSeconds)} (${s.imagesPerMinute.toFixed(1)} images/min after engine start, ${s.workers ? `${s.workers} workers` : 'in-process'}, ${s.runtime})` : ''),
      )
      console.log(`report: ${s.reportCsv} and ${s.reportJson}`)
      if (s.failed) console.log(`see the report for why ${s.failed === 1 ? 'one input' : `${s.failed} inputs`} failed`)
      if (s.cancelled) return 130
      return s.failed > 0 ? 1 : 0
    } finally {
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigint)
      if (keys) {
        stdin.off('data', onKey)
        stdin.setRawMode(false)
        stdin.pause()
      }
    }
  },
}

export default command
