/**
 * Fine-tunes a cast-frame model's shadow block through the hedge: the loss judges what `umbra
 * shadow` shows with no light given, the mean of the shadows cast in each direction the model
 * believes in (pipeline.ts shadeSpread), each mixed with the silhouette prior, against the pair's
 * real shadow. Everything but the shadow block stays frozen, so the belief (the directions and
 * their weights) is fixed per pair and computed once, by the pipeline itself.
 *
 * Why: the block is trained with each pair's own direction, where it should commit, but under the
 * hedge most of what it draws is in directions that are wrong, where it should draw nothing. Only
 * the block can tell those apart, from the scene it sees turned each way (the occluders' shadows
 * fall one way), and only a loss on the mix asks it to.
 *
 * How: the turn back into the photo and the mix are done outside the tfjs graph. One forward pass
 * of the block over every direction of a batch gives the mix; the gradient of the loss with respect
 * to each direction's darkening is computed from it (turned into that direction's frame with the
 * forward turn, the transpose of the bilinear turn back up to its edges) and the surrogate loss
 * sum(darkening x gradient) carries it into the weights. The loss is each pair's GRMSE + `--local`
 * x LRMSE at model resolution (the issue's two numbers, 0-1 scale; the pipeline's noise floor
 * included), so the weight of each is explicit.
 *
 *   npx tsx scripts/train-through-hedge.ts --model resources/models/default --train data/synth-train-v4
 *     --val data/synth-tune-v4 --out runs/hedge-ft [--pairs 2400] [--val-pairs 150] [--steps 2000]
 *     [--batch 4] [--lr 1e-4] [--local 0.19] [--eval-every 200] [--commit W] [--init MODEL_DIR]
 *
 * --commit W also scores each pair in its own light, counted W times (the shadow a user's light
 * gets); --init starts from another model's weights (the base still gives the belief and the prior).
 *
 * The validation numbers it prints are the same measure on the tuning split at model resolution;
 * judge the written model with `umbra eval` (256 px, the whole pipeline) before trusting them.
 */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { loadTfjsModel, saveModelDir } from '../src/engine/model-dir'
import { shadowBlockModel } from '../src/engine/shadow-block'
import { createShadowEngine } from '../src/engine/inference'
import { generateShadow, maskBoundingBox } from '../src/engine/pipeline'
import { committedHedgePair, cropPairForModel, hedgeMixLoss, mirrorHedgePair, turnHedgeBatch, type HedgePair, type TurnedBatch } from '../src/engine/train/through-hedge'
import { loadEvalSample } from '../src/engine/evaluate'
import { scanPairFolder } from '../src/engine/train/data'
import { TrainRng } from '../src/engine/train/rng'

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resources/models/default' },
    train: { type: 'string' },
    val: { type: 'string' },
    out: { type: 'string' },
    pairs: { type: 'string', default: '2400' },
    'val-pairs': { type: 'string', default: '150' },
    steps: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '4' },
    lr: { type: 'string', default: '1e-4' },
    local: { type: 'string', default: '0.19' },
    'eval-every': { type: 'string', default: '200' },
    commit: { type: 'string', default: '0' },
    init: { type: 'string' },
    seed: { type: 'string', default: '11' },
  },
})
if (!values.train || !values.val || !values.out) throw new Error('--train DIR --val DIR --out DIR are required')
const localWeight = Number(values.local)
/** --commit W: each pair also in its own light, its loss counted W times (committedHedgePair). */
const commitWeight = Number(values.commit)

await initTfBackend('wasm')
const engine = await createShadowEngine({ modelDir: values.model })
const S = engine.size
const manifestPrior = engine.manifest.shapePrior
if (engine.manifest.architecture.castFrame !== 'down' || !manifestPrior) throw new Error(`${values.model} is not a cast-frame model with a shape prior`)
const prior = manifestPrior

/** `includeHeldOut` only for the validation split (the tuning seeds lie in the held-out range; training never reads it). */
async function preparePairs(dir: string, limit: number, includeHeldOut: boolean): Promise<HedgePair[]> {
  const entries = (await scanPairFolder(dir, { includeHeldOut })).slice(0, limit)
  const out: HedgePair[] = []
  const t0 = performance.now()
  for (const entry of entries) {
    const s = await loadEvalSample(entry)
    const box = maskBoundingBox(s.object)
    if (!box) continue
    // The pipeline's own first pass decides the directions and their weights (no light given).
    const r = await generateShadow(engine, { image: s.noShadow, mask: s.object }, { layer: false, applyToImage: false })
    const cast = r.cast
    if (!cast) continue
    const directions = cast.spread ?? [{ angle: cast.angle, weight: 1 }]
    const { input, truth, shadowMask } = await cropPairForModel(s, box, S)
    const attention = new Float32Array(S * S * 2)
    for (let i = 0; i < S * S; i++) {
      attention[i * 2] = r.attention.occluders[i]
      attention[i * 2 + 1] = r.attention.occluderShadows[i]
    }
    out.push({ id: entry.id, input, attention, truth, shadowMask, directions })
    if (out.length % 200 === 0) console.log(`${dir}: ${out.length} pairs prepared (${((performance.now() - t0) / out.length).toFixed(0)} ms each)`)
  }
  return out
}

const { model, manifest } = await loadTfjsModel(values.model!)
if (values.init) {
  // Start from another model's weights (a hedge-trained one); the prior and the belief stay the base's.
  const start = await loadTfjsModel(values.init)
  model.setWeights(start.model.getWeights())
  start.model.dispose()
}
const block = shadowBlockModel(tf, model, S)
const vars = block.trainableWeights.map((w) => w.read() as tf.Variable)
console.log(`shadow block: ${block.countParams()} parameters in ${vars.length} tensors`)

const blockInputs = (turned: TurnedBatch) => {
  const n = turned.jobs.length
  return [tf.tensor4d(turned.inputs, [n, S, S, 4]), tf.tensor4d(turned.maps, [n, S, S, 2])]
}

function blockDarkening(turned: TurnedBatch): Float32Array {
  return tf.tidy(() => (block.predict(blockInputs(turned)) as tf.Tensor).dataSync() as Float32Array)
}

function validate(pairs: HedgePair[]): { g: number; l: number; loss: number } {
  let g = 0, l = 0, loss = 0
  for (let k = 0; k < pairs.length; k += 4) {
    const chunk = pairs.slice(k, k + 4)
    const turned = turnHedgeBatch(chunk, S, prior)
    const r = hedgeMixLoss(chunk, turned, blockDarkening(turned), S, localWeight, false)
    for (const pp of r.perPair) {
      g += pp.global
      l += pp.local
    }
    loss += r.loss * chunk.length
  }
  return { g: (g / pairs.length) * 255, l: (l / pairs.length) * 255, loss: loss / pairs.length }
}

const train = await preparePairs(values.train, Number(values.pairs), false)
const val = await preparePairs(values.val, Number(values['val-pairs']), true)
const meanDirections = train.reduce((a, p) => a + p.directions.length, 0) / train.length
console.log(`${train.length} training pairs (${meanDirections.toFixed(2)} directions each), ${val.length} validation pairs`)

const base = validate(val)
console.log(`validation before: GRMSE ${base.g.toFixed(3)} LRMSE ${base.l.toFixed(2)} (model resolution), loss ${base.loss.toFixed(5)}`)
let best = { ...base, step: 0, weights: vars.map((v) => v.clone()) }

const optimizer = tf.train.adam(Number(values.lr))
const rng = new TrainRng(Number(values.seed))
const steps = Number(values.steps)
const batchSize = Number(values.batch)
const evalEvery = Number(values['eval-every'])
let running = 0
const t0 = performance.now()
for (let step = 1; step <= steps; step++) {
  const hedged = Array.from({ length: batchSize }, () => {
    const p = train[Math.floor(rng.next() * train.length)]
    return rng.next() < 0.5 ? mirrorHedgePair(p, S) : p
  })
  const committed = commitWeight > 0 ? hedged.flatMap((p) => committedHedgePair(p, S, commitWeight) ?? []) : []
  const pairs = [...hedged, ...committed]
  const turned = turnHedgeBatch(pairs, S, prior)
  let lossValue = 0
  const { grads } = tf.variableGrads(() => {
    const dark = block.apply(blockInputs(turned), { training: true }) as tf.Tensor4D
    const r = hedgeMixLoss(pairs, turned, dark.dataSync() as Float32Array, S, localWeight, true)
    lossValue = r.loss
    // The surrogate whose gradient with respect to the darkening is the mix's (through-hedge.ts).
    return tf.sum(tf.mul(dark, tf.tensor4d(r.gradient as Float32Array, dark.shape))) as tf.Scalar
  }, vars)
  optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })))
  tf.dispose(grads)
  running = step === 1 ? lossValue : 0.98 * running + 0.02 * lossValue
  if (step % 20 === 0) console.log(`step ${step}/${steps}: loss ${running.toFixed(5)} (${((performance.now() - t0) / step / 1000).toFixed(2)} s/step)`)
  if (step % evalEvery === 0 || step === steps) {
    const v = validate(val)
    const better = v.loss < best.loss
    console.log(`validation at step ${step}: GRMSE ${v.g.toFixed(3)} LRMSE ${v.l.toFixed(2)}, loss ${v.loss.toFixed(5)}${better ? ' *' : ''}`)
    if (better) {
      tf.dispose(best.weights)
      best = { ...v, step, weights: vars.map((x) => x.clone()) }
    }
  }
}
vars.forEach((v, i) => v.assign(best.weights[i]))
const saved = await saveModelDir(join(values.out, 'model'), model, {
  name: manifest.name,
  baseModel: manifest.baseModel,
  inputSize: manifest.inputSize,
  architectureVersion: manifest.architectureVersion,
  architecture: manifest.architecture,
  training: manifest.training && { ...manifest.training, throughHedge: { pairs: train.length, steps: best.step, lr: Number(values.lr), local: localWeight, commit: commitWeight, ...(values.init ? { init: values.init } : {}) } },
  metrics: {},
  shapePrior: prior,
})
console.log(`wrote ${join(values.out, 'model')} (step ${best.step}: GRMSE ${best.g.toFixed(3)} LRMSE ${best.l.toFixed(2)} at model resolution; ${saved.parameterCount} parameters)`)
await engine.dispose()
