/**
 * Batch throughput: images per minute on twelve-megapixel JPEG composites (photo + mask), for
 * several ways of spreading the work over the cores.
 *
 *   npx tsx scripts/bench-batch.ts [--n 24] [--configs 2x2,0x4,1x2] [--model DIR] [--sharp N]
 *
 * A config is WORKERSxIN_FLIGHT[xTHREADS] (0 workers = everything in one thread, one engine).
 * Inputs are made once under data/bench-batch/in from the photos in data/textures (upscaled to
 * 4000x3000 with a little sensor-like grain, so they compress like camera JPEGs), or from
 * synthetic gradients when no textures are there. The model: --model, else
 * resources/models/default, else data/models/dev-init (made here when missing: same
 * architecture and cost as the shipped model, untrained weights).
 * Prints images/min measured from engine ready to the last file written (engine start excluded,
 * shown separately), and the mean time of each stage per image.
 */
import { existsSync, promises as fs } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { availableParallelism, loadavg } from 'node:os'
import sharp from 'sharp'
import { runBatch, type BatchEvent } from '../src/jobs/batch'

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '24' },
    configs: { type: 'string', default: '2x2,1x2x2,0x4' },
    model: { type: 'string' },
    sharp: { type: 'string' },
    width: { type: 'string', default: '4000' },
    height: { type: 'string', default: '3000' },
    quality: { type: 'string' },
  },
})
const N = Number(values.n)
const W = Number(values.width)
const H = Number(values.height)
const root = join('data', 'bench-batch')
const inDir = join(root, `in-${W}x${H}-${N}-v2`)

async function makeInputs(): Promise<void> {
  if (existsSync(join(inDir, 'done'))) return
  await fs.mkdir(inDir, { recursive: true })
  const texDir = join('data', 'textures', 'background')
  const sources = existsSync(texDir) ? (await fs.readdir(texDir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).map((f) => join(texDir, f)) : []
  console.error(`making ${N} ${W}x${H} JPEG composites in ${inDir} (${sources.length ? `from ${sources.length} photos` : 'synthetic'})...`)
  for (let i = 0; i < N; i++) {
    let rgb: Buffer
    if (sources.length) {
      rgb = await sharp(sources[i % sources.length]).rotate().resize(W, H, { fit: 'cover' }).removeAlpha().raw().toBuffer()
    } else {
      rgb = Buffer.alloc(W * H * 3)
      for (let p = 0; p < W * H; p++) {
        rgb[p * 3] = (p % W) * 200 / W + 30
        rgb[p * 3 + 1] = Math.floor(p / W) * 200 / H + 30
        rgb[p * 3 + 2] = 120
      }
    }
    // Grain, and an "object": an ellipse of flat-ish colour, mask beside it.
    let s = 1234 + i
    const mask = Buffer.alloc(W * H)
    const cx = W * (0.35 + 0.3 * ((i * 7) % 10) / 10)
    const cy = H * 0.55
    const rx = W * 0.08
    const ry = H * 0.18
    for (let p = 0; p < W * H; p++) {
      const x = p % W
      const y = (p - x) / W
      const inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
      for (let k = 0; k < 3; k++) {
        s = (s * 1103515245 + 12345) & 0x7fffffff
        const noise = ((s >> 16) & 15) - 7
        const v = inside ? [180, 60, 40][k] + noise : rgb[p * 3 + k] + noise
        rgb[p * 3 + k] = v < 0 ? 0 : v > 255 ? 255 : v
      }
      if (inside) mask[p] = 255
    }
    await sharp(rgb, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(inDir, `photo${String(i).padStart(3, '0')}.jpg`))
    await sharp(mask, { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').png().toFile(join(inDir, `photo${String(i).padStart(3, '0')}.mask.png`))
  }
  await fs.writeFile(join(inDir, 'done'), '')
}

async function modelDir(): Promise<string> {
  if (values.model) return values.model
  if (existsSync(join('resources', 'models', 'default', 'manifest.json'))) return join('resources', 'models', 'default')
  const dev = join('data', 'models', 'dev-init')
  if (!existsSync(join(dev, 'manifest.json'))) {
    const { execFileSync } = await import('node:child_process')
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/make-dev-model.ts', dev], { stdio: 'inherit' })
  }
  return dev
}

await makeInputs()
const model = await modelDir()
const sizes = (await fs.readdir(inDir)).filter((f) => f.endsWith('.jpg'))
let bytes = 0
for (const f of sizes) bytes += (await fs.stat(join(inDir, f))).size
console.log(`inputs: ${N} JPEG composites ${W}x${H} (${(W * H / 1e6).toFixed(1)} MP, mean ${(bytes / sizes.length / 1e6).toFixed(1)} MB) + PNG masks; model ${model}`)
console.log(`machine: ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start (the CPU may be shared)`)

for (const config of values.configs!.split(',')) {
  const [workers, inFlight, threads] = config.split('x').map(Number)
  const outDir = join(root, `out-${config}`)
  await fs.rm(outDir, { recursive: true, force: true })
  const stages = { read: 0, decode: 0, shadow: 0, encode: 0, write: 0, total: 0 }
  let engineReady = 0
  const t0 = performance.now()
  let cpuAtReady = process.cpuUsage()
  let runtime = ''
  const summary = await runBatch(
    { inDir, outDir, modelDir: model, workers, inFlight, threadsPerEngine: threads, sharpConcurrency: values.sharp ? Number(values.sharp) : undefined, quality: values.quality ? Number(values.quality) : undefined, force: true },
    {
      onEvent: (e: BatchEvent) => {
        if (e.type === 'engine') {
          engineReady = performance.now()
          cpuAtReady = process.cpuUsage()
          runtime = `${e.runtime}: ${e.detail}`
        }
        if (e.type === 'item' && e.row.timings) for (const k of Object.keys(stages) as (keyof typeof stages)[]) stages[k] += e.row.timings[k]
      },
    },
  )
  const cpu = process.cpuUsage(cpuAtReady)
  const n = summary.done
  // CPU time of every thread of this process (workers, sharp, onnxruntime) per image: on a shared
  // machine this says what two cores of our own would give, whatever the others are running.
  const cpuPerImage = (cpu.user + cpu.system) / 1e6 / Math.max(1, n)
  const mean = Object.entries(stages)
    .map(([k, v]) => `${k} ${(v / Math.max(1, n)).toFixed(0)}`)
    .join(', ')
  console.log(
    `${config.padEnd(7)} workers=${workers} inFlight=${inFlight}${threads ? ` threads=${threads}` : ''}: ${summary.imagesPerMinute.toFixed(1)} images/min ` +
      `(${n} done, ${summary.failed} failed; engine start ${((engineReady - t0) / 1000).toFixed(1)} s; ${runtime})`,
  )
  console.log(`        CPU per image ${(cpuPerImage * 1000).toFixed(0)} ms (all threads) -> at most ${((60 * availableParallelism()) / cpuPerImage).toFixed(0)} images/min with ${availableParallelism()} free cores`)
  console.log(`        mean ms per image (wall time inside an item, overlapping others): ${mean}`)
  await fs.rm(outDir, { recursive: true, force: true })
}
