/**
 * Trains a model's attention block alone (the att_* layers and the `attention` output), with the
 * attention loss only, and measures its occluder-shadow map as it goes (docs/model.md, twenty-first
 * session). The question it answers: is the map held back by the joint training, by the loss, or
 * by the block's size? The shadow block and the direction output keep their weights, but they read
 * the maps: a saved model is a measuring object, to be judged whole (`umbra eval`,
 * scripts/measure-scene-reading.ts) before anything uses it.
 *
 *   npx tsx scripts/train-attention-block.ts [--model DIR] [--data data/synth-train-v4] [--tune data/synth-tune-v4]
 *       [--steps 1000] [--batch 8] [--lr 3e-4] [--positive-cap 1] [--dice 0] [--widen 1]
 *       [--eval-every 250] [--eval-limit 300] [--also /work/shared/real-dev] [--out DIR]
 *
 * - Each step trains on the cast-frame crops and on the same crops unturned (what the pipeline's
 *   first pass sees), so a batch of B pairs is 2B images.
 * - The loss is the training loop's class-balanced cross-entropy (`--positive-cap 1`: calibrated
 *   maps, as shipped), plus, with `--dice W`, W times a soft Dice loss on the occluder-shadow map
 *   (it scores each map's overlap as a whole rather than pixel by pixel).
 * - `--widen F` first widens the attention U-Net by F (rounded to multiples of 16) with
 *   transferWeights, which keeps what the model computes: step 0 scores as the original.
 * - Every --eval-every steps: precision, recall and IoU of the maps on the tuning pairs' unturned
 *   crops at model resolution (occluders at 0.5; occluder shadows at 0.3, 0.5 and 0.7), and at the
 *   start and the end also per light setting. `--also DIR` scores a second pair folder the same
 *   way (e.g. real-dev, validation only: it is watched, never chosen on). With --out the model
 *   folder is written there.
 * Never train on held-out pairs or real photographs: they measure the result afterwards.
 */
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { loadTfjsModel, saveModelDir } from '../src/engine/model-dir'
import { buildShadowModel, type ShadowModelConfig } from '../src/engine/model/architecture'
import { transferWeights } from '../src/engine/train/checkpoint'
import { DEFAULT_AUGMENT, NO_AUGMENT, PairDataset, augmentFor, loadPair, makeExample, scanPairFolder, type TrainExample } from '../src/engine/train/data'
import { TrainRng } from '../src/engine/train/rng'
import { balancedBce } from '../src/engine/train/losses'

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resources/models/default' },
    data: { type: 'string', default: 'data/synth-train-v4' },
    tune: { type: 'string', default: 'data/synth-tune-v4' },
    also: { type: 'string' },
    out: { type: 'string' },
    steps: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '8' },
    lr: { type: 'string', default: '3e-4' },
    'positive-cap': { type: 'string', default: '1' },
    dice: { type: 'string', default: '0' },
    widen: { type: 'string', default: '1' },
    'eval-every': { type: 'string', default: '250' },
    'eval-limit': { type: 'string', default: '300' },
    seed: { type: 'string', default: '5' },
  },
})
const number = (name: keyof typeof values, min: number): number => {
  const v = Number(values[name])
  if (!Number.isFinite(v) || v < min) throw new Error(`--${name} must be a number >= ${min}, got '${values[name]}'`)
  return v
}
const steps = number('steps', 0), batchPairs = number('batch', 1), lr = number('lr', 0), positiveCap = number('positive-cap', 1)
const diceWeight = number('dice', 0), widen = number('widen', 1), evalEvery = number('eval-every', 1), evalLimit = number('eval-limit', 1)

await initTfBackend('wasm')
const source = await loadTfjsModel(values.model!)
const config = { ...(source.manifest.architecture as unknown as ShadowModelConfig) }
let generator = source.model
if (widen !== 1) {
  config.attentionWidths = config.attentionWidths.map((w) => Math.max(16, Math.round((w * widen) / 16) * 16))
  generator = buildShadowModel(config)
  const { fresh } = transferWeights(generator, source.model)
  if (fresh.length > 0) throw new Error(`widening left layers without weights: ${fresh.join(', ')}`)
  console.log(`attention widths widened to ${config.attentionWidths.join('-')}`)
}
const s = source.manifest.inputSize
// The attention output alone, sharing the generator's layers: training it trains the generator.
const attentionBlock = tf.model({ inputs: generator.inputs, outputs: generator.outputs[0] })
const isAttentionLayer = (name: string) => name.startsWith('att_') || name === 'attention'
const trained = generator.layers.filter((l) => isAttentionLayer(l.name)).flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable))
console.log(`${trained.length} attention weights, ${trained.reduce((n, v) => n + v.size, 0)} parameters`)

type ScoredCrop = { example: TrainExample; setting: string }

/** A folder's unturned crops (no augmentation), with their light setting from meta.json where it has one. */
async function loadCrops(dir: string): Promise<ScoredCrop[]> {
  const crops: ScoredCrop[] = []
  for (const entry of (await scanPairFolder(dir, { includeHeldOut: true })).slice(0, evalLimit)) {
    const meta = JSON.parse(await readFile(join(entry.dir, 'meta.json'), 'utf8').catch(() => '{}')) as { light?: { setting?: string } }
    crops.push({ example: makeExample(await loadPair(entry, s), s, NO_AUGMENT, new TrainRng(1)), setting: meta.light?.setting ?? 'unknown' })
  }
  if (crops.length === 0) throw new Error(`no pairs in ${dir}`)
  return crops
}
const tune = await loadCrops(values.tune!)
const also = values.also ? await loadCrops(values.also) : null

const CASES: [channel: number, threshold: number][] = [[0, 0.5], [1, 0.3], [1, 0.5], [1, 0.7]]

/** Per crop, true positives, false positives and false negatives for each of CASES: occluders@0.5, shadows@0.3, @0.5, @0.7. */
function cropCounts(crops: ScoredCrop[]): number[][][] {
  const out: number[][][] = []
  for (let i = 0; i < crops.length; i += 16) {
    const chunk = crops.slice(i, i + 16).map((c) => c.example)
    const input = new Float32Array(chunk.length * s * s * 4)
    chunk.forEach((e, k) => input.set(e.input, k * s * s * 4))
    const maps = tf.tidy(() => (attentionBlock.predict(tf.tensor4d(input, [chunk.length, s, s, 4])) as tf.Tensor).dataSync() as Float32Array)
    chunk.forEach((e, k) => {
      const counts = CASES.map(() => [0, 0, 0])
      for (let p = 0; p < s * s; p++) {
        CASES.forEach(([c, threshold], j) => {
          const predicted = maps[(k * s * s + p) * 2 + c] > threshold, truth = e.attention[p * 2 + c] > 0.5
          if (predicted || truth) counts[j][predicted && truth ? 0 : predicted ? 1 : 2]++
        })
      }
      out.push(counts)
    })
  }
  return out
}

/** The counts of `perCrop` pooled, as precision, recall and IoU per case. */
function mapReport(perCrop: number[][][]): string {
  const pooled = CASES.map((_, j) => [0, 1, 2].map((m) => perCrop.reduce((sum, c) => sum + c[j][m], 0)))
  const f = ([tp, fp, fn]: number[]) => `P ${(tp / Math.max(1, tp + fp)).toFixed(3)} R ${(tp / Math.max(1, tp + fn)).toFixed(3)} IoU ${(tp / Math.max(1, tp + fp + fn)).toFixed(3)}`
  const [occ, sh3, sh5, sh7] = pooled
  return `occluders@0.5 ${f(occ)} | shadows@0.3 ${f(sh3)} | @0.5 ${f(sh5)} | @0.7 ${f(sh7)}`
}

function report(step: number, perSetting: boolean): void {
  // One pass over the crops; the per-setting lines pool subsets of the same counts.
  const counts = cropCounts(tune)
  console.log(`step ${step} (${tune.length} crops of ${values.tune}): ${mapReport(counts)}`)
  if (perSetting) {
    for (const setting of [...new Set(tune.map((t) => t.setting))].sort()) {
      const subset = counts.filter((_, i) => tune[i].setting === setting)
      console.log(`  ${setting} (${subset.length}): ${mapReport(subset)}`)
    }
  }
  if (also) console.log(`  ${values.also} (${also.length}): ${mapReport(cropCounts(also))}`)
}

/** 1 - soft Dice of the occluder-shadow map (channel 1), per image, averaged. */
function softDiceLoss(pred: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  const p = tf.slice(pred, [0, 0, 0, 1], [-1, -1, -1, 1])
  const t = tf.slice(target, [0, 0, 0, 1], [-1, -1, -1, 1])
  const overlap = tf.sum(tf.mul(p, t), [1, 2, 3])
  const sizes = tf.add(tf.sum(p, [1, 2, 3]), tf.sum(t, [1, 2, 3]))
  return tf.sub(1, tf.mean(tf.div(tf.add(tf.mul(overlap, 2), 1), tf.add(sizes, 1)))) as tf.Scalar
}

report(0, true)
const dataset = new PairDataset(values.data!, s)
await dataset.rescan()
const rng = new TrainRng(number('seed', 0))
const augment = augmentFor(DEFAULT_AUGMENT, config)
if (!augment.castFrame) throw new Error(`${values.model} is not a cast-frame model: this script trains on turned and unturned crops`)
const optimizer = tf.train.adam(lr, 0.9, 0.999)
let next = dataset.batch(batchPairs, rng, augment)
const started = Date.now()
let smoothed = 0
for (let step = 1; step <= steps; step++) {
  const examples = await next
  next = dataset.batch(batchPairs, rng, augment)
  const n = examples.length * 2
  const input = new Float32Array(n * s * s * 4), target = new Float32Array(n * s * s * 2)
  examples.forEach((e, k) => {
    const view = e.view
    if (!view) throw new Error('cast-frame examples carry their unturned view')
    input.set(e.input, 2 * k * s * s * 4)
    input.set(view.input, (2 * k + 1) * s * s * 4)
    target.set(e.attention, 2 * k * s * s * 2)
    target.set(view.attention, (2 * k + 1) * s * s * 2)
  })
  const x = tf.tensor4d(input, [n, s, s, 4]), y = tf.tensor4d(target, [n, s, s, 2])
  const cost = optimizer.minimize(() => {
    const pred = attentionBlock.apply(x, { training: true }) as tf.Tensor4D
    const bce = balancedBce(pred, y, undefined, positiveCap)
    return diceWeight > 0 ? (tf.add(bce, tf.mul(softDiceLoss(pred, y), diceWeight)) as tf.Scalar) : bce
  }, true, trained)
  const loss = cost ? cost.dataSync()[0] : NaN
  tf.dispose([cost as tf.Scalar, x, y])
  if (!Number.isFinite(loss)) throw new Error(`the loss diverged at step ${step}: lower --lr`)
  smoothed = step === 1 ? loss : smoothed * 0.98 + loss * 0.02
  if (step % 50 === 0) console.log(`step ${step}: loss ${smoothed.toFixed(4)} (smoothed), ${((Date.now() - started) / step / 1000).toFixed(2)} s/step`)
  if (step % evalEvery === 0 || step === steps) {
    report(step, step === steps)
    if (values.out) {
      const training = { ...(source.manifest.training ?? { dataCount: 0, steps: 0, wallTimeSeconds: 0, backend: 'wasm' }), attentionBlockOnly: { from: values.model, steps: step, lr, positiveCap, dice: diceWeight, widen } }
      await saveModelDir(values.out, generator, { ...source.manifest, name: `${source.manifest.name}-attention`, architecture: { ...config }, training })
      console.log(`wrote ${values.out}`)
    }
  }
}
