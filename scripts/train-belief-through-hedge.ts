/**
 * Trains a cast-frame model's direction output (the belief the hedge averages over) through the
 * hedge: the loss judges what `umbra shadow` shows with no light given, the weighted mean of the
 * shadows cast in each direction, against the pair's real shadow. Everything else is frozen, so
 * each pair's shadow cast in each of the 16 direction bins (the shadow block and the silhouette
 * prior, pipeline.ts shadeCasts) is fixed and computed once; an epoch then costs only the head.
 *
 * Why: the head is trained toward a soft label around the true direction (a log loss), and the
 * hedge takes its belief as it is. How sure it should be where the hedge is judged by the issue's
 * two numbers is a different question: a wrong direction costs more when the shadow is long and
 * dark. This asks the head that question directly.
 *
 * The hedge here mixes the 16 bins at their centres; the pipeline merges them into 8 sectors and
 * drops those under 5% (cast-frame.ts hedgeDirections), so judge the written model with `umbra
 * eval`. The pipeline's other weights on the belief (the object's shading, the strict scene reading,
 * a fine-tuned model's light prior: pipeline.ts weighBelief) are applied as they are at inference.
 * Pairs where the sun in the photo decides the direction are left out (the belief is not used).
 *
 *   npx tsx scripts/train-belief-through-hedge.ts --model resources/models/default --train data/synth-train-v4
 *     --val data/synth-tune-v4 --out runs/belief/model [--pairs 3000] [--val-pairs 150] [--epochs 8]
 *     [--batch 16] [--lr 3e-4] [--local 0.19]
 *
 * Memory: about 1.5 MB per pair (4.4 GB for 3,000). Preparing a pair takes about 160 ms here.
 */
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { loadTfjsModel, saveModelDir } from '../src/engine/model-dir'
import { createShadowEngine } from '../src/engine/inference'
import { maskBoundingBox, objectCoverage, shadeCasts, weighBelief } from '../src/engine/pipeline'
import { loadEvalSample } from '../src/engine/evaluate'
import { scanPairFolder } from '../src/engine/train/data'
import { TrainRng } from '../src/engine/train/rng'
import { directionBinAngle, directionOutputTrusted, mirrorColumns, mirroredBin } from '../src/engine/cast-frame'
import { objectShading } from '../src/engine/shading-cue'
import { findSunInPhoto } from '../src/engine/sun-cue'
import { directionHeadLayers, evidenceFromAttention } from '../src/engine/train/direction-head'
import { beliefMixLoss, cropPairForModel, type BeliefHedgePair } from '../src/engine/train/through-hedge'

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resources/models/default' },
    train: { type: 'string' },
    val: { type: 'string' },
    out: { type: 'string' },
    pairs: { type: 'string', default: '3000' },
    'val-pairs': { type: 'string', default: '150' },
    epochs: { type: 'string', default: '8' },
    batch: { type: 'string', default: '16' },
    lr: { type: 'string', default: '3e-4' },
    local: { type: 'string', default: '0.19' },
    seed: { type: 'string', default: '6' },
  },
})
if (!values.train || !values.val || !values.out) throw new Error('--train DIR --val DIR --out DIR are required')
const localWeight = Number(values.local)

await initTfBackend('wasm')
const engine = await createShadowEngine({ modelDir: values.model })
const S = engine.size
const binsOption = engine.manifest.architecture.directionBins
if (engine.manifest.architecture.castFrame !== 'down' || typeof binsOption !== 'number') throw new Error(`${values.model} is not a cast-frame model with a direction output`)
// A model whose validation vouches for its mode commits to it when sure, which this loss does not model.
if (directionOutputTrusted(engine.manifest.metrics)) throw new Error(`${values.model} commits to its direction when sure: not handled here`)
const bins: number = binsOption
const binAngles = Array.from({ length: bins }, (_, k) => directionBinAngle(k, bins))
const N = S * S * 3

/** `includeHeldOut` only for the validation split (the tuning seeds lie in the held-out range; training never reads it). */
async function preparePairs(dir: string, limit: number, includeHeldOut: boolean): Promise<BeliefHedgePair[]> {
  const entries = (await scanPairFolder(dir, { includeHeldOut })).slice(0, limit)
  const out: BeliefHedgePair[] = []
  let sunDecides = 0
  const t0 = performance.now()
  for (const entry of entries) {
    const s = await loadEvalSample(entry)
    const box = maskBoundingBox(s.object)
    if (!box) continue
    const { input, truth, shadowMask } = await cropPairForModel(s, box, S)
    const first = await engine.infer(input, 1)
    const { belief, posterior, estimate } = weighBelief(engine, first, objectCoverage(input, S), { shading: () => objectShading(s.noShadow, s.object, box) })
    if (!belief || !posterior) throw new Error(`${entry.id}: the model gave no direction output`)
    // As runModel: where the maps found no shadows to read, the sun in the photo decides.
    if (estimate.source !== 'scene' && findSunInPhoto(s.noShadow, s.object, { x: box.x + box.width / 2, y: box.y + box.height })) {
      sunDecides++
      continue
    }
    const evidenceFactor = new Float64Array(bins)
    for (let k = 0; k < bins; k++) evidenceFactor[k] = posterior[k] / Math.max(belief[k], 1e-30)
    const top = Math.max(...evidenceFactor)
    for (let k = 0; k < bins; k++) evidenceFactor[k] /= top
    const casts = await shadeCasts(engine, input, first.attention, binAngles)
    const castPerBin = new Uint8Array(bins * N)
    casts.forEach((d, k) => {
      for (let i = 0; i < N; i++) castPerBin[k * N + i] = Math.round(Math.min(1, Math.max(0, d[i])) * 255)
    })
    out.push({ id: entry.id, input, attention: first.attention, truth, shadowMask, castPerBin, evidenceFactor })
    if (out.length % 200 === 0) console.log(`${dir}: ${out.length} pairs prepared (${((performance.now() - t0) / out.length).toFixed(0)} ms each)`)
  }
  console.log(`${dir}: ${out.length} pairs; ${sunDecides} left out (the sun in the photo decides their direction)`)
  return out
}

const { model, manifest } = await loadTfjsModel(values.model)
// The head's layers applied to its own input (shared weights): the attention block is not run.
const layers = directionHeadLayers(model)
const headInput = tf.input({ shape: [S, S, 6] })
let headOutput: tf.SymbolicTensor = headInput
for (const layer of layers) headOutput = layer.apply(headOutput) as tf.SymbolicTensor
const head = tf.model({ inputs: headInput, outputs: headOutput })
const vars = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable))

/** The head's inputs and the evidence factors of a batch, each pair mirrored where `mirrored` says (its bins mirrored with it). */
function batchTensors(pairs: BeliefHedgePair[], mirrored: boolean[]): { evidence: tf.Tensor4D; factor: tf.Tensor2D } {
  const evidence = new Float32Array(pairs.length * S * S * 6)
  const factor = new Float32Array(pairs.length * bins)
  pairs.forEach((p, i) => {
    const e = evidenceFromAttention(p.input, p.attention, 1)[0]
    evidence.set(mirrored[i] ? mirrorColumns(e, S, 6) : e, i * S * S * 6)
    for (let k = 0; k < bins; k++) factor[i * bins + k] = p.evidenceFactor[mirrored[i] ? mirroredBin(k, bins) : k]
  })
  return { evidence: tf.tensor4d(evidence, [pairs.length, S, S, 6]), factor: tf.tensor2d(factor, [pairs.length, bins]) }
}

/** The hedge's weights per bin: the softmax of the cells' mean logits (directionPosterior) times the evidence, normalised. */
function hedgeWeights(logits: tf.Tensor, factor: tf.Tensor2D): tf.Tensor2D {
  const weighed = tf.mul(tf.softmax(tf.mean(logits, [1, 2]) as tf.Tensor2D), factor)
  return tf.div(weighed, tf.sum(weighed, 1, true)) as tf.Tensor2D
}

/** Row `i` of a batch's weights in its pair's own (unmirrored) bins. */
function ownBins(weights: Float32Array, i: number, mirrored: boolean): Float64Array {
  return Float64Array.from({ length: bins }, (_, k) => weights[i * bins + (mirrored ? mirroredBin(k, bins) : k)])
}

function validate(pairs: BeliefHedgePair[]): { g: number; l: number; loss: number } {
  let g = 0, l = 0, loss = 0
  for (let i = 0; i < pairs.length; i += 32) {
    const chunk = pairs.slice(i, i + 32)
    const unmirrored = chunk.map(() => false)
    const t = batchTensors(chunk, unmirrored)
    const weights = tf.tidy(() => hedgeWeights(head.predict(t.evidence) as tf.Tensor, t.factor).dataSync() as Float32Array)
    tf.dispose([t.evidence, t.factor])
    chunk.forEach((p, j) => {
      const r = beliefMixLoss(p, ownBins(weights, j, false), S, localWeight)
      g += r.global
      l += r.local
      loss += r.loss
    })
  }
  return { g: (g / pairs.length) * 255, l: (l / pairs.length) * 255, loss: loss / pairs.length }
}

const val = await preparePairs(values.val, Number(values['val-pairs']), true)
const base = validate(val)
console.log(`validation before: GRMSE ${base.g.toFixed(3)} LRMSE ${base.l.toFixed(2)} (model resolution, ${bins} bins), loss ${base.loss.toFixed(5)}`)
const train = await preparePairs(values.train, Number(values.pairs), false)
const batchSize = Number(values.batch)
if (train.length < batchSize) throw new Error(`${train.length} training pairs: fewer than one batch of ${batchSize}`)

const optimizer = tf.train.adam(Number(values.lr))
const rng = new TrainRng(Number(values.seed))
let best = { ...base, epoch: 0, weights: vars.map((v) => v.clone()) }
const t0 = performance.now()
const epochs = Number(values.epochs)
for (let epoch = 1; epoch <= epochs; epoch++) {
  const order = rng.permutation(train.length)
  let lossSum = 0
  let count = 0
  for (let i = 0; i + batchSize <= order.length; i += batchSize) {
    const pairs = order.slice(i, i + batchSize).map((j) => train[j])
    const mirrored = pairs.map(() => rng.next() < 0.5)
    const t = batchTensors(pairs, mirrored)
    const { grads } = tf.variableGrads(() => {
      const weights = hedgeWeights(head.apply(t.evidence, { training: true }) as tf.Tensor, t.factor)
      const values = weights.dataSync() as Float32Array
      const gradient = new Float32Array(pairs.length * bins)
      pairs.forEach((p, j) => {
        const r = beliefMixLoss(p, ownBins(values, j, mirrored[j]), S, localWeight)
        lossSum += r.loss
        count++
        for (let k = 0; k < bins; k++) gradient[j * bins + (mirrored[j] ? mirroredBin(k, bins) : k)] = r.gradient[k] / pairs.length
      })
      // The surrogate whose gradient with respect to the weights is the mean loss's.
      return tf.sum(tf.mul(weights, tf.tensor2d(gradient, [pairs.length, bins]))) as tf.Scalar
    }, vars)
    optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })))
    tf.dispose([...Object.values(grads), t.evidence, t.factor])
  }
  const v = validate(val)
  const better = v.loss < best.loss
  if (better) {
    tf.dispose(best.weights)
    best = { ...v, epoch, weights: vars.map((x) => x.clone()) }
  }
  console.log(`epoch ${epoch}: train ${(lossSum / count).toFixed(5)}; validation GRMSE ${v.g.toFixed(3)} LRMSE ${v.l.toFixed(2)}, loss ${v.loss.toFixed(5)}${better ? ' *' : ''} (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
}
vars.forEach((v, i) => v.assign(best.weights[i]))
const saved = await saveModelDir(values.out, model, {
  name: manifest.name,
  baseModel: manifest.baseModel,
  inputSize: manifest.inputSize,
  architectureVersion: manifest.architectureVersion,
  architecture: manifest.architecture,
  training: manifest.training && { ...manifest.training, beliefThroughHedge: { pairs: train.length, epochs, bestEpoch: best.epoch, lr: Number(values.lr), local: localWeight } },
  metrics: {},
  ...(manifest.shapePrior ? { shapePrior: manifest.shapePrior } : {}),
})
console.log(`wrote ${values.out} (epoch ${best.epoch}: GRMSE ${best.g.toFixed(3)} LRMSE ${best.l.toFixed(2)} at model resolution; ${saved.parameterCount} parameters)`)
await engine.dispose()
