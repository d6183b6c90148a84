/**
 * Where the shadow block's error lies: in the shadow's place and shape, or in its darkness. Runs
 * the pipeline (as `umbra eval` does, 256x256) with the pair's own shadow direction, so that the
 * direction is not in question, and prints mean GRMSE / LRMSE for:
 *   - identity and the model as it is;
 *   - the model's darkening times a global gain g (d' = min(1, g d)) for a range of g: the trade
 *     between the two numbers that any inference-side darkness change moves along;
 *   - oracles, which use the pair's own shadow and so are bounds, not methods: the gain chosen per
 *     image for each number; the true shadow mask darkened by the pair's own mean darkening (a
 *     perfect shape at one level); the model's shape (pixels it darkens by more than 5%) at the
 *     pair's own level. And the model's coverage: the share of true shadow pixels it darkens by
 *     more than 5%.
 * With meta.json's light setting (synthetic pairs), the mean per-image best gains per setting.
 *
 *   npx tsx scripts/diagnose-darkening.ts --data data/synth-tune-v4 [--limit 100] [--model DIR]
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { RawImage } from '../src/core/image'
import { scanPairFolder } from '../src/engine/train/data'
import { loadEvalSample, truthCastAngle } from '../src/engine/evaluate'
import { createShadowEngine } from '../src/engine/inference'
import { generateShadow } from '../src/engine/pipeline'
import { rmse } from '../src/engine/metrics'

const { values } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, limit: { type: 'string' } } })
if (!values.data) throw new Error('--data DIR is required')
const GAINS = [0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3]
const engine = await createShadowEngine({ modelDir: values.model })
const sums = new Map<string, number[]>()
const add = (key: string, v: number) => sums.set(key, [...(sums.get(key) ?? []), v])
const bestBySetting = new Map<string, { g: number[]; l: number[] }>()
let pairs = 0

/** The photo with each channel darkened by darkening(i, c) in [0, 1] (object pixels keep theirs). */
function darkened(noShadow: RawImage, object: RawImage, darkening: (i: number, c: number) => number): RawImage {
  const data = new Uint8Array(noShadow.data.length)
  for (let i = 0; i < noShadow.width * noShadow.height; i++) {
    for (let c = 0; c < 3; c++) data[i * 3 + c] = object.data[i] > 127 ? noShadow.data[i * 3 + c] : Math.round(noShadow.data[i * 3 + c] * (1 - darkening(i, c)))
  }
  return { ...noShadow, data }
}

for (const entry of (await scanPairFolder(values.data, { includeHeldOut: true })).slice(0, Number(values.limit ?? 100))) {
  const s = await loadEvalSample(entry)
  const truth = truthCastAngle(s)
  if (truth === null) continue
  const out = await generateShadow(engine, { image: s.noShadow, mask: s.object }, { castAngle: truth, layer: false })
  const ns = s.noShadow.data
  const modelD = (i: number, c: number) => Math.max(0, 1 - out.composite.data[i * 3 + c] / Math.max(1, ns[i * 3 + c]))
  const inShadow = (i: number) => s.objectShadow.data[i] > 0 && s.object.data[i] <= 127
  const score = (img: RawImage) => ({ g: rmse(img, s.shadow), l: rmse(img, s.shadow, s.objectShadow) })

  pairs++
  const id = score(s.noShadow)
  add('identity GRMSE', id.g)
  add('identity LRMSE', id.l)
  let bestG = { gain: 1, v: Infinity }
  let bestL = { gain: 1, v: Infinity }
  for (const gain of GAINS) {
    const m = score(darkened(s.noShadow, s.object, (i, c) => Math.min(1, gain * modelD(i, c))))
    add(`model x ${gain} GRMSE`, m.g)
    add(`model x ${gain} LRMSE`, m.l)
    if (m.g < bestG.v) bestG = { gain, v: m.g }
    if (m.l < bestL.v) bestL = { gain, v: m.l }
  }
  add('oracle: best gain per image GRMSE', bestG.v)
  add('oracle: best gain per image LRMSE', bestL.v)

  const level = [0, 0, 0]
  let n = 0
  let covered = 0
  for (let i = 0; i < s.noShadow.width * s.noShadow.height; i++) {
    if (!inShadow(i)) continue
    for (let c = 0; c < 3; c++) level[c] += Math.max(0, 1 - s.shadow.data[i * 3 + c] / Math.max(1, ns[i * 3 + c]))
    n++
    if (modelD(i, 1) > 0.05) covered++
  }
  if (n === 0) continue
  for (let c = 0; c < 3; c++) level[c] /= n
  add('model coverage of the true shadow', covered / n)
  add('oracle: true mask at its own level LRMSE', score(darkened(s.noShadow, s.object, (i, c) => (inShadow(i) ? level[c] : 0))).l)
  add('oracle: model shape at the true level LRMSE', score(darkened(s.noShadow, s.object, (i, c) => (modelD(i, 1) > 0.05 ? level[c] : modelD(i, c)))).l)

  const meta = await fs.readFile(join(entry.dir, 'meta.json'), 'utf8').then((t) => JSON.parse(t) as { light?: { setting?: string } }).catch(() => null)
  const setting = meta?.light?.setting
  if (setting) {
    const b = bestBySetting.get(setting) ?? { g: [], l: [] }
    b.g.push(bestG.gain)
    b.l.push(bestL.gain)
    bestBySetting.set(setting, b)
  }
}
await engine.dispose()

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length
console.log(`${pairs} pairs from ${values.data}, the pair's own light, 256x256`)
for (const [key, v] of sums) console.log(`${key.padEnd(46)} ${mean(v).toFixed(3)}`)
for (const [setting, b] of bestBySetting) console.log(`best gain per image, ${setting} (${b.g.length}): for GRMSE ${mean(b.g).toFixed(2)}, for LRMSE ${mean(b.l).toFixed(2)}`)
