/**
 * How much the object's shading tells about the shadow's direction, and the weight it gets
 * (shading-cue.ts). For each pair, as the pipeline sees it: the model's direction belief, the
 * object's shading (objectShading: the slope across it, the rim against the core) and the true
 * direction (truthCastAngle). Prints the AUCs of "the shadow falls right / down" for the belief and for
 * each measure, then the log-probability the weighed belief gives the true direction, and the
 * hedge's expected angular error, for a range of weights. Fit on training pairs; the held-out sets and real photos are for reporting only.
 *
 *   npx tsx scripts/fit-shading-cue.ts --data data/synth-train-v4 --limit 800 [--model DIR]
 */
import { parseArgs } from 'node:util'
import { scanPairFolder } from '../src/engine/train/data'
import { loadEvalSample, truthCastAngle } from '../src/engine/evaluate'
import { angleDifference, directionPosterior, hedgeDirections } from '../src/engine/cast-frame'
import { createShadowEngine } from '../src/engine/inference'
import { cropForModel, maskBoundingBox } from '../src/engine/pipeline'
import { applyShadingCue, halfMass, objectShading, rightwardMass, type ObjectShading } from '../src/engine/shading-cue'

const { values } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, limit: { type: 'string' }, skip: { type: 'string' } } })
if (!values.data) throw new Error('--data DIR is required')
const engine = await createShadowEngine({ modelDir: values.model })
const directionBins = engine.manifest.architecture.directionBins
if (typeof directionBins !== 'number') throw new Error(`${engine.modelDir}: the model has no direction output`)
const bins: number = directionBins
const skip = Number(values.skip ?? 0)
const entries = (await scanPairFolder(values.data, { includeHeldOut: true })).slice(skip, skip + Number(values.limit ?? 400))
const rows: { truth: number; belief: Float64Array; shading: ObjectShading | null }[] = []
for (const e of entries) {
  const s = await loadEvalSample(e)
  const truth = truthCastAngle(s)
  const box = maskBoundingBox(s.object)
  if (truth === null || !box) continue
  const { batch } = await cropForModel(s.noShadow, s.object, box, engine.size)
  const out = await engine.infer(batch, 1)
  if (!out.direction) throw new Error('the model returned no direction output')
  rows.push({ truth, belief: directionPosterior(out.direction, bins), shading: objectShading(s.noShadow, s.object, box) })
}
await engine.dispose()

function auc(score: number[], positive: boolean[]): number {
  let sum = 0, pairs = 0
  for (let i = 0; i < score.length; i++)
    for (let j = 0; j < score.length; j++)
      if (positive[i] && !positive[j]) {
        pairs++
        sum += score[i] > score[j] ? 1 : score[i] === score[j] ? 0.5 : 0
      }
  return sum / pairs
}
/** The belief's probability density at angle a, interpolated between bins (per bin width). */
function probabilityAt(post: Float64Array, a: number): number {
  const t = (((a / (2 * Math.PI)) * bins) % bins + bins) % bins
  const k = Math.floor(t)
  return post[k % bins] * (1 - (t - k)) + post[(k + 1) % bins] * (t - k)
}

function score(weights: { x: number; rim: number }): { logp: number; medianError: number; meanError: number } {
  let logp = 0
  const errors: number[] = []
  for (const r of rows) {
    const post = r.shading ? applyShadingCue(r.belief, r.shading, weights) : r.belief
    logp += Math.log(Math.max(1e-9, probabilityAt(post, r.truth)))
    errors.push((hedgeDirections(post).reduce((a, d) => a + d.weight * angleDifference(d.angle, r.truth), 0) * 180) / Math.PI)
  }
  errors.sort((a, b) => a - b)
  return { logp: logp / rows.length, medianError: errors[errors.length >> 1], meanError: errors.reduce((a, b) => a + b, 0) / errors.length }
}

const withCue = rows.filter((r) => r.shading)
const right = withCue.map((r) => Math.cos(r.truth) > 0)
const down = withCue.map((r) => Math.sin(r.truth) > 0)
console.log(`${rows.length} pairs from ${values.data} (${withCue.length} with a shading reading), model ${engine.modelDir}`)
console.log(`AUC "the shadow falls right": the belief ${auc(withCue.map((r) => rightwardMass(r.belief)), right).toFixed(3)}, the slope across ${auc(withCue.map((r) => -r.shading!.x), right).toFixed(3)}`)
console.log(`AUC "the shadow falls down":  the belief ${auc(withCue.map((r) => halfMass(r.belief, Math.PI / 2)), down).toFixed(3)}, the rim ${auc(withCue.map((r) => r.shading!.rim), down).toFixed(3)}`)
console.log('weights x, rim   log p(true direction)   hedge error: median  mean (degrees)')
let best = { x: 0, rim: 0, logp: -Infinity }
for (const x of [0, 1, 2, 3, 4, 5, 6]) {
  for (const rim of [0, 0.5, 1, 1.5, 2]) {
    const s = score({ x, rim })
    if (s.logp > best.logp) best = { x, rim, logp: s.logp }
    if (rim === 0 || x === 2 || x === 4) console.log(`${String(x).padStart(9)}, ${String(rim).padEnd(3)}  ${s.logp.toFixed(3).padStart(21)}  ${s.medianError.toFixed(1).padStart(19)}  ${s.meanError.toFixed(1).padStart(5)}`)
  }
}
console.log(`highest log p: x ${best.x}, rim ${best.rim} (${best.logp.toFixed(3)})`)
