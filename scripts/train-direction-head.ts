/**
 * Trains a cast-frame model's direction output alone, everything else frozen: the attention block
 * and the shadow block keep their weights byte for byte, so the shadow in a given direction is
 * unchanged and only the belief the hedge averages over (pipeline.ts) moves.
 *
 * The head's input is computed once per augmented view (the views `umbra train` makes, data.ts
 * makeExample; the attention maps come from the model's ONNX file through onnxruntime, or from
 * tfjs with --no-onnx; most of the preparation is makeExample's augmentation, about 80 ms per
 * view), so each epoch costs only the head (src/engine/train/direction-head.ts). Loss: the
 * trainer's (losses.ts directionLoss; 1 = no idea, 0 = exact). The epoch with the lowest loss on
 * the validation views (--val: the tuning split, never a held-out set) is kept.
 *
 *   npx tsx scripts/train-direction-head.ts --model resources/models/default --train data/synth-fit-v4
 *     --val data/synth-tune-v4 --out runs/dirhead [--views 2] [--epochs 30] [--lr 1e-3] [--limit N]
 */
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { loadOnnxBytes, loadTfjsModel, saveModelDir } from '../src/engine/model-dir'
import { createOnnxRunner } from '../src/engine/runtime/onnx-runner'
import { augmentFor, DEFAULT_AUGMENT, loadPair, makeExample, NO_AUGMENT, scanPairFolder, type PairEntry } from '../src/engine/train/data'
import { createDirectionHeadTrainer, evidenceFromAttention, type HeadViews } from '../src/engine/train/direction-head'
import { generatorLrAt } from '../src/engine/train/loop'
import { TrainRng } from '../src/engine/train/rng'

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'resources/models/default' },
    train: { type: 'string' },
    val: { type: 'string' },
    out: { type: 'string' },
    views: { type: 'string', default: '2' },
    epochs: { type: 'string', default: '30' },
    lr: { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '32' },
    limit: { type: 'string' },
    seed: { type: 'string', default: '7' },
    'no-onnx': { type: 'boolean', default: false },
  },
})
if (!values.train || !values.val || !values.out) throw new Error('--train DIR --val DIR --out DIR are required')

const backend = await initTfBackend('wasm')
const { model: generator, manifest } = await loadTfjsModel(values.model!)
const S = manifest.inputSize
// Throws for a model without the bins output (only cast-frame models have one).
const trainer = createDirectionHeadTrainer(generator)
// The attention maps for the head's input: onnxruntime on both cores, or the trainer's tfjs pass.
const onnx = values['no-onnx'] ? null : await createOnnxRunner((await loadOnnxBytes(values.model!)).bytes, manifest)
const evidenceOf = async (inputs: Float32Array, n: number) => (onnx ? evidenceFromAttention(inputs, (await onnx.run(inputs, n)).attention, n) : trainer.evidence(inputs, n))

/** The head's input for `views` views of each pair whose shadow direction is known (augmented: as the trainer makes them). */
async function prepare(entries: PairEntry[], views: number, augment: boolean, rng: TrainRng): Promise<HeadViews> {
  const out: HeadViews = { evidence: [], direction: [] }
  const aug = augmentFor(augment ? DEFAULT_AUGMENT : NO_AUGMENT, { castFrame: 'down' })
  const pending: { input: Float32Array; direction: [number, number] }[] = []
  const flush = async () => {
    const inputs = new Float32Array(pending.length * S * S * 4)
    pending.forEach((p, i) => inputs.set(p.input, i * S * S * 4))
    out.evidence.push(...(await evidenceOf(inputs, pending.length)))
    out.direction.push(...pending.map((p) => p.direction))
    pending.length = 0
  }
  for (const entry of entries) {
    const pair = await loadPair(entry, Math.round(S * 1.25))
    for (let v = 0; v < views; v++) {
      const ex = makeExample(pair, S, aug, rng)
      if (ex.view?.direction) pending.push({ input: ex.view.input, direction: ex.view.direction })
    }
    if (pending.length >= 32) await flush()
  }
  if (pending.length) await flush()
  return out
}

const rng = new TrainRng(Number(values.seed))
const limit = values.limit ? Number(values.limit) : Infinity
const trainEntries = (await scanPairFolder(values.train)).slice(0, limit)
const valEntries = await scanPairFolder(values.val, { includeHeldOut: true })
const t0 = performance.now()
const train = await prepare(trainEntries, Number(values.views), true, rng)
const val = await prepare(valEntries, 1, false, rng)
await onnx?.dispose()
console.log(`backend ${backend.backend} (attention maps: ${onnx ? onnx.detail : 'tfjs'}); ${train.evidence.length} training views of ${trainEntries.length} pairs, ${val.evidence.length} validation views; prepared in ${((performance.now() - t0) / 1000).toFixed(0)} s`)

const batch = Number(values.batch)
if (!(train.evidence.length >= batch)) throw new Error(`${train.evidence.length} training views with a visible shadow: fewer than one batch of ${batch} (give more pairs, --views or a smaller --batch)`)
const epochs = Number(values.epochs)
const lr0 = Number(values.lr)
const baseLoss = trainer.loss(val, batch)
let best = { loss: baseLoss, epoch: 0, weights: trainer.snapshot() }
console.log(`epoch 0: validation ${best.loss.toFixed(4)} (the base model's head)`)
for (let epoch = 1; epoch <= epochs; epoch++) {
  // The trainer's half-cosine schedule, by epoch: from lr0 down to lr0 / 30 over the run.
  const lr = generatorLrAt(epoch - 1, lr0, { fromStep: 0, toStep: epochs, endLr: lr0 / 30 })
  const trainLoss = trainer.epoch(train, batch, lr, rng)
  const valLoss = trainer.loss(val, batch)
  const improved = valLoss < best.loss
  if (improved) {
    tf.dispose(best.weights)
    best = { loss: valLoss, epoch, weights: trainer.snapshot() }
  }
  console.log(`epoch ${epoch}: train ${trainLoss.toFixed(4)}, validation ${valLoss.toFixed(4)}${improved ? ' *' : ''} (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
}
trainer.restore(best.weights)
const saved = await saveModelDir(values.out, generator, {
  name: manifest.name,
  baseModel: manifest.baseModel,
  inputSize: manifest.inputSize,
  architectureVersion: manifest.architectureVersion,
  architecture: manifest.architecture,
  // What the head was trained on, beside the base's own summary (the head's training is separate).
  training: manifest.training && {
    ...manifest.training,
    directionHead: { pairs: trainEntries.length, views: train.evidence.length, epochs, bestEpoch: best.epoch, validationLoss: Number(best.loss.toFixed(4)), baseValidationLoss: Number(baseLoss.toFixed(4)) },
  },
  metrics: {},
  ...(manifest.shapePrior ? { shapePrior: manifest.shapePrior } : {}),
})
console.log(`wrote ${values.out} (epoch ${best.epoch}, validation ${best.loss.toFixed(4)}; ${saved.parameterCount} parameters)`)
