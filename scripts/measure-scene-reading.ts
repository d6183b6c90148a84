/**
 * How well the attention block reads the scene's occluders and their shadows, and what that reading
 * is worth to the shadow (docs/model.md, twentieth session). On a pair folder, as `umbra shadow`
 * runs (no light given: the hedge; --light truth: each pair's own direction):
 *
 *   npx tsx scripts/measure-scene-reading.ts --data data/synth-tune-v4 [--model DIR] [--limit N] [--threshold 0.5] [--light default|truth]
 *
 * 1. The maps against the true masks: precision, recall and IoU of the occluder and occluder-shadow
 *    maps (placed back on the photo as `umbra shadow --attention` writes them, at --threshold),
 *    pooled over the pixels inside the model windows.
 * 2. The silhouette prior's length and darkening read per photo by the geometric baseline's
 *    estimateLight from the scene's occluders and their shadows, where it finds a reading (the
 *    model's medians elsewhere): from the model's own maps, and from the true masks (the ceiling a
 *    perfect attention block would reach). GRMSE / LRMSE / BER against the model's own prior.
 * Never tune a constant to held-out pairs or real photographs with it: they measure, they do not choose.
 */
import { parseArgs } from 'node:util'
import { scanPairFolder } from '../src/engine/train/data'
import { loadEvalSample, truthCastAngle } from '../src/engine/evaluate'
import { computeSampleMetrics } from '../src/engine/metrics'
import { createShadowEngine } from '../src/engine/inference'
import { generateShadow, renderAttentionMaps } from '../src/engine/pipeline'
import { estimateLight, type GeometricEstimate } from '../src/engine/baselines'
import type { ShapePrior } from '../src/engine/shape-prior'
import type { RawImage } from '../src/core/image'

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string', default: 'resources/models/default' },
    limit: { type: 'string' },
    threshold: { type: 'string', default: '0.5' },
    light: { type: 'string', default: 'default' },
  },
})
if (!values.data) throw new Error('give --data DIR (a pair folder)')
if (values.light !== 'default' && values.light !== 'truth') throw new Error(`--light must be default or truth, got '${values.light}'`)
const threshold = Number(values.threshold)
if (!(threshold > 0 && threshold < 1)) throw new Error(`--threshold must be between 0 and 1, got '${values.threshold}'`)

const entries = (await scanPairFolder(values.data, { includeHeldOut: true })).slice(0, values.limit ? Number(values.limit) : undefined)
const engine = await createShadowEngine({ modelDir: values.model! })
const ownPrior = engine.manifest.shapePrior
if (!ownPrior) throw new Error(`${values.model} has no silhouette prior (manifest shapePrior)`)

/** tp, fp, fn per map, over the pixels inside the model windows. */
const pixels = { occluders: [0, 0, 0], occluderShadows: [0, 0, 0] }
const rows = ['model prior', 'darkening from the maps', 'length and darkening from the maps', 'darkening from the true masks', 'length and darkening from the true masks'] as const
const sums = new Map<string, [number, number, number]>(rows.map((r) => [r, [0, 0, 0]]))
let fromMaps = 0, fromTrue = 0

const binary = (m: RawImage): RawImage => ({ ...m, data: Uint8Array.from(m.data, (v) => (v > threshold * 255 ? 255 : 0)) })
const withReading = (g: GeometricEstimate, length: boolean): ShapePrior =>
  g.fromScene ? { ...ownPrior, darkening: g.darkening, ...(length ? { lengthPerHeight: Math.hypot(g.k[0], g.k[1]) } : {}) } : ownPrior

for (const entry of entries) {
  const s = await loadEvalSample(entry)
  const castAngle = values.light === 'truth' ? (truthCastAngle(s) ?? undefined) : undefined
  const input = { image: s.noShadow, mask: s.object }
  const first = await generateShadow(engine, input, { layer: false, castAngle })
  const W = s.noShadow.width, H = s.noShadow.height
  const rendered = await renderAttentionMaps(first.attention, W, H)
  const { window: win } = first.attention
  const maps = { occluders: binary(rendered.occluders), occluderShadows: binary(rendered.occluderShadows) }
  for (const which of ['occluders', 'occluderShadows'] as const) {
    const truth = which === 'occluders' ? s.occluders : s.occluderShadows
    for (let y = win.y; y < win.y + win.height; y++) {
      for (let x = win.x; x < win.x + win.width; x++) {
        const i = y * W + x
        const p = maps[which].data[i] > 0, t = truth.data[i] > 127
        if (p || t) pixels[which][p && t ? 0 : p ? 1 : 2]++
      }
    }
  }
  const readMaps = estimateLight(s.noShadow, maps.occluders, maps.occluderShadows)
  const readTrue = estimateLight(s.noShadow, s.occluders, s.occluderShadows)
  if (readMaps.fromScene) fromMaps++
  if (readTrue.fromScene) fromTrue++
  const priors: Record<(typeof rows)[number], ShapePrior> = {
    'model prior': ownPrior,
    'darkening from the maps': withReading(readMaps, false),
    'length and darkening from the maps': withReading(readMaps, true),
    'darkening from the true masks': withReading(readTrue, false),
    'length and darkening from the true masks': withReading(readTrue, true),
  }
  for (const row of rows) {
    // Where the scene gave no reading the prior is the model's own: the first run's result stands.
    const composite = priors[row] === ownPrior ? first.composite : (await generateShadow(engine, input, { layer: false, castAngle, shapePrior: priors[row] })).composite
    const m = computeSampleMetrics(composite, s.shadow, s.noShadow, s.objectShadow, { ssim: false })
    const sum = sums.get(row)!
    sum[0] += m.GRMSE
    sum[1] += m.LRMSE
    sum[2] += m.BER
  }
}
await engine.dispose()

const n = entries.length
console.log(`${n} pairs from ${values.data}, light ${values.light}, maps at ${threshold}`)
for (const [name, [tp, fp, fn]] of Object.entries(pixels)) {
  console.log(`  ${name.padEnd(16)} precision ${(tp / (tp + fp)).toFixed(3)}  recall ${(tp / (tp + fn)).toFixed(3)}  IoU ${(tp / (tp + fp + fn)).toFixed(3)}`)
}
console.log(`the prior's length and darkening (a reading from the maps on ${fromMaps} pairs, from the true masks on ${fromTrue}): GRMSE / LRMSE / BER`)
for (const [row, [g, l, b]] of sums) console.log(`  ${row.padEnd(42)} ${(g / n).toFixed(3)} / ${(l / n).toFixed(3)} / ${(b / n).toFixed(2)}`)
