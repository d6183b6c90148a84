/**
 * How much the object's shading tells about the shadow's direction, and the weight it gets
 * (shading-cue.ts). For each pair, as the pipeline sees it: the model's direction belief, the
 * brightness slope across the object (objectShading) and the true direction (castAngleOf). Prints
 * the AUC of "the shadow falls right" for the belief and for the slope, then the log-probability the
 * weighed belief gives the true direction, and the hedge's expected angular error, for a range of
 * weights. Fit on training pairs; the held-out sets and real photos are for reporting only.
 *
 *   npx tsx scripts/fit-shading-cue.ts --data data/synth-train-v4 --limit 800 [--model DIR]
 */
import { parseArgs } from 'node:util'
import { scanPairFolder } from '../src/engine/train/data'
import { loadEvalSample, EVAL_SIZE } from '../src/engine/evaluate'
import { angleDifference, castAngleOf, directionPosterior, hedgeDirections } from '../src/engine/cast-frame'
import { createShadowEngine } from '../src/engine/inference'
import { cropForModel, maskBoundingBox } from '../src/engine/pipeline'
import { applyShadingCue, objectShading, rightwardMass, type ObjectShading } from '../src/engine/shading-cue'

const { values } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, limit: { type: 'string' }, skip: { type: 'string' } } })
if (!values.data) throw new Error('--data DIR is required')
const engine = await createShadowEngine({ modelDir: values.model })
const directionBins = engine.manifest.architecture.directionBins
if (typeof directionBins !== 'number') throw new Error(`${engine.modelDir}: the model has no direction output`)
const bins: number = directionBins
const skip = Number(values.skip ?? 0)
const entries = (await scanPairFolder(values.data, { includeHeldOut: true })).slice(skip, skip + Number(values.limit ?? 400))
const rows: { truth: number; belief: Float64Array; shading: ObjectShading | null }[] = []
const S = EVAL_SIZE
for (const e of entries) {
  const s = await loadEvalSample(e)
  const object = Float32Array.from(s.object.data, (v) => (v > 127 ? 1 : 0))
  const truth = castAngleOf(object, Float32Array.from(s.objectShadow.data, (v) => (v > 127 ? 1 : 0)), S)
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

const withCue = rows.filter((r) => r.shading)
const right = withCue.map((r) => Math.cos(r.truth) > 0)
console.log(`${rows.length} pairs from ${values.data} (${withCue.length} with a shading slope), model ${engine.modelDir}`)
console.log(`AUC "the shadow falls right": the belief ${auc(withCue.map((r) => rightwardMass(r.belief)), right).toFixed(3)}, the slope ${auc(withCue.map((r) => -r.shading!.x), right).toFixed(3)}`)
console.log('weight  log p(true direction)  hedge error: median  mean (degrees)')
for (const w of [0, 1, 2, 3, 4, 5, 6, 8]) {
  let logp = 0
  const errors: number[] = []
  for (const r of rows) {
    const post = r.shading ? applyShadingCue(r.belief, r.shading, { x: w, y: 0 }) : r.belief
    logp += Math.log(Math.max(1e-9, probabilityAt(post, r.truth)))
    errors.push((hedgeDirections(post).reduce((a, d) => a + d.weight * angleDifference(d.angle, r.truth), 0) * 180) / Math.PI)
  }
  errors.sort((a, b) => a - b)
  console.log(`${String(w).padStart(6)}  ${(logp / rows.length).toFixed(3).padStart(21)}  ${errors[errors.length >> 1].toFixed(1).padStart(19)}  ${(errors.reduce((a, b) => a + b, 0) / errors.length).toFixed(1).padStart(5)}`)
}
