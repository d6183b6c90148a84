/**
 * How well the cast direction is read from a scene: for each pair, the true direction (the
 * object's own shadow, castAngleOf) against estimateCastAngle on the model's attention maps, at
 * several vote-agreement gates, and against the model's own direction output (models with one) at
 * several confidence gates. Prints the median angular error and how often the default was used.
 *
 *   npx tsx scripts/measure-cast-direction.ts --data data/synth-heldout-v3 --model runs/cast/model [--limit 300]
 *   npx tsx scripts/measure-cast-direction.ts --data ../shared/real-dev --model resources/models/default
 */
import { parseArgs } from 'node:util'
import { scanPairFolder, loadPair } from '../src/engine/train/data'
import { angleDifference, castAngleOf, directionMode, directionPosterior, estimateCastAngle, MIN_DIRECTION_CONFIDENCE } from '../src/engine/cast-frame'
import { createShadowEngine } from '../src/engine/inference'

const { values } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, limit: { type: 'string' }, gates: { type: 'string' }, threshold: { type: 'string' }, skip: { type: 'string' } } })
const threshold = Number(values.threshold ?? 0.5)
if (!values.data) throw new Error('--data DIR is required')
const engine = await createShadowEngine({ modelDir: values.model })
const S = engine.size
const gates = (values.gates ?? '0,0.5,0.7,0.85').split(',').map(Number)
const skip = Number(values.skip ?? 0)
const entries = (await scanPairFolder(values.data, { includeHeldOut: true })).slice(skip, skip + Number(values.limit ?? 300))
const errors = gates.map(() => [] as number[])
const defaults = gates.map(() => 0)
const decided = gates.map(() => [] as number[]) // errors where the scene's direction was used
const gtOnly: number[] = []
const diff = (a: number, b: number) => (angleDifference(a, b) * 180) / Math.PI
// The model's direction output: [error, confidence] per pair.
const votes: [number, number][] = []
for (const e of entries) {
  const p = await loadPair(e, S)
  const truth = castAngleOf(p.object, p.objectShadow, S)
  if (truth === null) continue
  const batch = new Float32Array(S * S * 4)
  for (let i = 0; i < S * S; i++) {
    for (let c = 0; c < 3; c++) batch[i * 4 + c] = p.noShadow[i * 3 + c]
    batch[i * 4 + 3] = p.object[i] > 0.5 ? 1 : 0
  }
  const out = await engine.infer(batch, 1)
  gates.forEach((g, k) => {
    const est = estimateCastAngle(out.attention, p.object, S, { minAgreement: g, threshold })
    if (est.source === 'default') defaults[k]++
    else decided[k].push(diff(truth, est.angle))
    errors[k].push(diff(truth, est.angle))
  })
  // the same estimator on the true masks: what a perfect attention block would allow
  const gt = new Float32Array(S * S * 2)
  for (let i = 0; i < S * S; i++) {
    gt[i * 2] = p.occluders[i]
    gt[i * 2 + 1] = p.occluderShadows[i]
  }
  gtOnly.push(diff(truth, estimateCastAngle(gt, p.object, S, { minAgreement: 0 }).angle))
  const bins = engine.manifest.architecture.directionBins
  if (out.direction && typeof bins === 'number') {
    const v = directionMode(directionPosterior(out.direction, bins))
    votes.push([diff(truth, v.angle), v.confidence])
  }
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return `median ${s[s.length >> 1].toFixed(1)} deg, within 30 deg ${((100 * s.filter((x) => x < 30).length) / s.length).toFixed(0)}%`
}
console.log(`${gtOnly.length} pairs from ${values.data}, model ${engine.modelDir}`)
console.log(`true masks:            ${stats(gtOnly)}`)
gates.forEach((g, k) =>
  console.log(`attention, gate ${g.toFixed(2)}: ${stats(errors[k])}, default used ${defaults[k]}; where the scene decided (${decided[k].length}): ${decided[k].length ? stats(decided[k]) : '-'}`),
)
if (votes.length > 0) {
  console.log(`direction output, mean confidence ${(votes.reduce((a, v) => a + v[1], 0) / votes.length).toFixed(2)}:`)
  for (const g of [0, 0.3, MIN_DIRECTION_CONFIDENCE, 0.7]) {
    const used = votes.filter((v) => v[1] >= g).map((v) => v[0])
    console.log(`  confidence >= ${g.toFixed(2)}${g === MIN_DIRECTION_CONFIDENCE ? ' (the pipeline)' : ''}: used on ${used.length}/${votes.length}${used.length ? `, ${stats(used)}` : ''}`)
  }
}
await engine.dispose()
