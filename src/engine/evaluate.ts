import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { decodeMask, decodeRgb, type RawImage } from '../core/image'
import { UserError } from '../core/errors'
import { writeFileAtomic } from '../core/atomic'
import { PAIR_FILES } from '../shared/pair-format'
import { scanPairFolder, type PairEntry } from './train/data'
import { computeSampleMetrics, meanMetrics, METRIC_NAMES, type SampleMetrics, type MetricName } from './metrics'
import { runBaseline, type BaselineName } from './baselines'
import { castAngleOf } from './cast-frame'
import { renderSheet, type Tile } from './train/plot'

/**
 * Evaluation as the shadow-generation literature does it: every sample resized to 256x256, each
 * method's prediction scored with GRMSE / LRMSE / GSSIM / LSSIM / BER (metrics.ts) against the
 * real shadow image, means over samples. Methods: the baselines and, when given, a model run
 * through the same photo pipeline `umbra shadow` uses (createShadowEngine + generateShadow).
 */
export const EVAL_SIZE = 256

export interface EvalSample {
  id: string
  noShadow: RawImage
  shadow: RawImage
  object: RawImage
  objectShadow: RawImage
  occluders: RawImage
  occluderShadows: RawImage
}

async function resizeTo(img: RawImage, size: number, mask: boolean): Promise<RawImage> {
  if (img.width === size && img.height === size) return img
  const buf = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels } })
    .resize(size, size, { fit: 'fill', kernel: mask ? 'nearest' : 'lanczos3' })
    .toColourspace(img.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer()
  return { width: size, height: size, channels: img.channels, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.length) }
}

export async function loadEvalSample(entry: PairEntry, size = EVAL_SIZE): Promise<EvalSample> {
  const p = (k: keyof typeof PAIR_FILES) => join(entry.dir, PAIR_FILES[k])
  const [noShadow, shadow, object, objectShadow, occluders, occluderShadows] = await Promise.all([
    decodeRgb(p('noShadow')),
    decodeRgb(p('shadow')),
    decodeMask(p('object')),
    decodeMask(p('objectShadow')),
    decodeMask(p('occluders')),
    decodeMask(p('occluderShadows')),
  ])
  for (const img of [shadow, object, objectShadow, occluders, occluderShadows]) {
    if (img.width !== noShadow.width || img.height !== noShadow.height) {
      throw new UserError('PAIR_SIZE_MISMATCH', `${entry.dir}: images differ in size`)
    }
  }
  return {
    id: entry.id,
    noShadow: await resizeTo(noShadow, size, false),
    shadow: await resizeTo(shadow, size, false),
    object: await resizeTo(object, size, true),
    objectShadow: await resizeTo(objectShadow, size, true),
    occluders: await resizeTo(occluders, size, true),
    occluderShadows: await resizeTo(occluderShadows, size, true),
  }
}

/** The direction the sample's own object shadow is cast (castAngleOf on its masks), or null when it has none to measure. */
export function truthCastAngle(s: EvalSample): number | null {
  const unit = (m: RawImage) => Float32Array.from(m.data, (v) => (v > 127 ? 1 : 0))
  return castAngleOf(unit(s.object), unit(s.objectShadow), s.object.width)
}

/** A method maps a sample to a predicted RGB image of the same size. */
export interface EvalMethod {
  name: string
  predict(sample: EvalSample): Promise<RawImage>
}

export function baselineMethod(name: BaselineName): EvalMethod {
  return { name, predict: async (s) => runBaseline(name, s) }
}

export interface EvalResult {
  methods: string[]
  samples: { id: string; metrics: Record<string, SampleMetrics> }[]
  means: Record<string, Record<MetricName, number> & { count: number }>
  skipped: { id: string; reason: string }[]
}

export interface EvalOptions {
  limit?: number
  /** Rows in the comparison sheet. */
  sheetRows?: number
  onProgress?: (done: number, total: number) => void
}

export async function evaluate(dataDir: string, methods: EvalMethod[], outDir: string, opts: EvalOptions = {}): Promise<EvalResult> {
  let entries = await scanPairFolder(dataDir, { includeHeldOut: true })
  if (entries.length === 0) throw new UserError('NO_PAIRS', `no complete pairs in ${dataDir}`)
  if (opts.limit) entries = entries.slice(0, opts.limit)
  const result: EvalResult = { methods: methods.map((m) => m.name), samples: [], means: {}, skipped: [] }
  const sheetRows: Tile[][] = []
  const maxRows = opts.sheetRows ?? 8
  const sheetEvery = Math.max(1, Math.floor(entries.length / maxRows))
  for (let k = 0; k < entries.length; k++) {
    const entry = entries[k]
    let sample: EvalSample
    try {
      sample = await loadEvalSample(entry)
    } catch (err) {
      result.skipped.push({ id: entry.id, reason: (err as Error).message })
      continue
    }
    if (!sample.object.data.some((v) => v > 0)) {
      result.skipped.push({ id: entry.id, reason: 'empty object mask' })
      continue
    }
    const metrics: Record<string, SampleMetrics> = {}
    const preds: RawImage[] = []
    for (const m of methods) {
      const pred = await m.predict(sample)
      preds.push(pred)
      metrics[m.name] = computeSampleMetrics(pred, sample.shadow, sample.noShadow, sample.objectShadow)
    }
    result.samples.push({ id: entry.id, metrics })
    if (k % sheetEvery === 0 && sheetRows.length < maxRows) sheetRows.push(await sheetRow(sample, preds))
    opts.onProgress?.(k + 1, entries.length)
  }
  for (const m of methods) result.means[m.name] = meanMetrics(result.samples.map((s) => s.metrics[m.name]))

  await fs.mkdir(outDir, { recursive: true })
  await writeFileAtomic(join(outDir, 'per-sample.csv'), perSampleCsv(result))
  await writeFileAtomic(join(outDir, 'summary.json'), JSON.stringify({ data: dataDir, means: result.means, count: result.samples.length, skipped: result.skipped }, null, 2) + '\n')
  if (sheetRows.length > 0) {
    await writeFileAtomic(join(outDir, 'comparison.png'), await renderSheet(sheetRows, SHEET_TILE, ['input', ...methods.map((m) => m.name), 'real shadow', 'shadow mask']))
  }
  return result
}

const SHEET_TILE = 160

async function tile(img: RawImage): Promise<Tile> {
  const buf = await sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: img.channels } })
    .resize(SHEET_TILE, SHEET_TILE, { fit: 'fill' })
    .toColourspace(img.channels === 1 ? 'b-w' : 'srgb')
    .raw()
    .toBuffer()
  const data = new Float32Array(buf.length)
  for (let i = 0; i < buf.length; i++) data[i] = buf[i] / 255
  return { data, channels: img.channels === 1 ? 1 : 3 }
}

async function sheetRow(sample: EvalSample, preds: RawImage[]): Promise<Tile[]> {
  return Promise.all([sample.noShadow, ...preds, sample.shadow, sample.objectShadow].map(tile))
}

function perSampleCsv(r: EvalResult): string {
  const head = ['id', ...r.methods.flatMap((m) => METRIC_NAMES.map((k) => `${m}.${k}`)), 'maskPixels']
  const rows = r.samples.map((s) => [s.id, ...r.methods.flatMap((m) => METRIC_NAMES.map((k) => fmt(s.metrics[m][k]))), String(s.metrics[r.methods[0]].maskPixels)])
  return [head, ...rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n'
}

function csvCell(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(4) : ''
}

/** The metrics table as aligned text (lower is better for RMSE and BER, higher for SSIM). */
export function formatTable(r: EvalResult): string {
  const header = ['method', 'GRMSE', 'LRMSE', 'GSSIM', 'LSSIM', 'BER', 'n']
  const rows = r.methods.map((m) => {
    const x = r.means[m]
    return [m, x.GRMSE.toFixed(2), x.LRMSE.toFixed(2), x.GSSIM.toFixed(4), x.LSSIM.toFixed(4), x.BER.toFixed(2), String(x.count)]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
