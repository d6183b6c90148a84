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
 *     [--head-widths 32,32,64,64,64] [--views-cache DIR]
 *
 * --head-widths gives the head new widths (architecture.ts directionWidths: one per strided layer,
 * then the mix). The trained head is widened into them (checkpoint.ts transferWeights), so training
 * starts from the same belief and the new channels learn from there.
 *
 * --views-cache DIR keeps the prepared views on disk (float32, 393 KB per view at 128 px: 5.7 GB for
 * 14,400 views), so that runs on the same base model, pairs, --views, --limit and --seed skip the
 * preparation (87 ms per view on one thread, about 20 minutes for 14,400). A cache made for other
 * settings is refused, not silently reused.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { loadOnnxBytes, loadTfjsModel, saveModelDir } from '../src/engine/model-dir'
import { buildShadowModel, type ShadowModelConfig } from '../src/engine/model/architecture'
import { createOnnxRunner } from '../src/engine/runtime/onnx-runner'
import { transferWeights } from '../src/engine/train/checkpoint'
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
    'head-widths': { type: 'string' },
    'views-cache': { type: 'string' },
  },
})
if (!values.train || !values.val || !values.out) throw new Error('--train DIR --val DIR --out DIR are required')

const backend = await initTfBackend('wasm')
const { model: base, manifest } = await loadTfjsModel(values.model!)
const S = manifest.inputSize
const headWidths = values['head-widths']?.split(',').map(Number)
// The ONNX file (for the attention maps) is the base's: a wider head changes no attention weight.
const generator = headWidths ? widenHead(base, headWidths) : base
const architecture = headWidths ? { ...manifest.architecture, directionWidths: headWidths } : manifest.architecture

/** The base model rebuilt with a head of `widths`, its trained weights widened into it. */
function widenHead(model: tf.LayersModel, widths: number[]): tf.LayersModel {
  const wider = buildShadowModel({ ...(manifest.architecture as unknown as ShadowModelConfig), size: S, directionWidths: widths })
  const { fresh, widened } = transferWeights(wider, model)
  if (fresh.length > 0) throw new Error(`layers with no counterpart in the base model: ${fresh.join(', ')}`)
  console.log(`head widened to ${widths.join(', ')} (${widened.join(', ')})`)
  model.dispose()
  return wider
}
// Throws for a model without the bins output (only cast-frame models have one).
const trainer = createDirectionHeadTrainer(generator)
// The attention maps for the head's input: onnxruntime on both cores, or the trainer's tfjs pass.
// Only started when views are prepared (not when they come from --views-cache).
let onnx: Awaited<ReturnType<typeof createOnnxRunner>> | null = null
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

/** sha256 over the attention block's layers (names 'att_*' and 'attention', architecture.ts), in name order. */
function attentionBlockSha256(model: tf.LayersModel): string {
  const hash = createHash('sha256')
  const layers = model.layers.filter((l) => l.name.startsWith('att_') || l.name === 'attention').sort((a, b) => a.name.localeCompare(b.name))
  if (layers.length === 0) throw new Error('the base model has no attention block')
  for (const layer of layers) {
    hash.update(layer.name)
    for (const w of layer.getWeights()) {
      const data = w.dataSync<'float32'>()
      hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    }
  }
  return hash.digest('hex')
}

/** What the prepared views depend on: a cache made under another key is not these views. */
interface CacheKey {
  /**
   * The checksum of the base model's attention-block weights (attentionBlockSha256): the views'
   * maps come from that block alone, so a base whose head or shadow block differs (a wider head, a
   * head trained further) reuses the views, and one whose attention block differs does not.
   */
  attentionSha256: string
  train: string
  val: string
  trainPairs: number
  valPairs: number
  views: number
  seed: number
  size: number
}
interface CacheMeta {
  key: CacheKey
  train: [number, number][]
  val: [number, number][]
}

async function writeViews(file: string, evidence: Float32Array[]): Promise<void> {
  const handle = await open(`${file}.partial`, 'w')
  try {
    for (const e of evidence) await handle.write(new Uint8Array(e.buffer, e.byteOffset, e.byteLength))
  } finally {
    await handle.close()
  }
  await rename(`${file}.partial`, file)
}

async function readViews(file: string, count: number, floatsPerView: number): Promise<Float32Array[]> {
  const handle = await open(file, 'r')
  try {
    const views: Float32Array[] = []
    for (let i = 0; i < count; i++) {
      const view = new Float32Array(floatsPerView)
      const { bytesRead } = await handle.read(new Uint8Array(view.buffer), 0, view.byteLength, i * view.byteLength)
      if (bytesRead !== view.byteLength) throw new Error(`${file}: view ${i} is cut short (${bytesRead} of ${view.byteLength} bytes): delete the cache folder and prepare again`)
      views.push(view)
    }
    return views
  } finally {
    await handle.close()
  }
}

const rng = new TrainRng(Number(values.seed))
const limit = values.limit ? Number(values.limit) : Infinity
const trainEntries = (await scanPairFolder(values.train)).slice(0, limit)
const valEntries = await scanPairFolder(values.val, { includeHeldOut: true })
const t0 = performance.now()
const cacheDir = values['views-cache']
const key: CacheKey = {
  attentionSha256: attentionBlockSha256(generator),
  train: resolve(values.train),
  val: resolve(values.val),
  trainPairs: trainEntries.length,
  valPairs: valEntries.length,
  views: Number(values.views),
  seed: Number(values.seed),
  size: S,
}
const cachedMeta = cacheDir ? await readFile(join(cacheDir, 'meta.json'), 'utf8').then((t) => JSON.parse(t) as CacheMeta, () => null) : null
if (cachedMeta && JSON.stringify(cachedMeta.key) !== JSON.stringify(key)) {
  throw new Error(`${cacheDir} holds views prepared for other settings (${JSON.stringify(cachedMeta.key)}); give another --views-cache folder`)
}
let train: HeadViews
let val: HeadViews
if (cacheDir && cachedMeta) {
  const floats = S * S * 6
  train = { evidence: await readViews(join(cacheDir, 'train.f32'), cachedMeta.train.length, floats), direction: cachedMeta.train }
  val = { evidence: await readViews(join(cacheDir, 'val.f32'), cachedMeta.val.length, floats), direction: cachedMeta.val }
} else {
  onnx = values['no-onnx'] ? null : await createOnnxRunner((await loadOnnxBytes(values.model!)).bytes, manifest)
  train = await prepare(trainEntries, Number(values.views), true, rng)
  val = await prepare(valEntries, 1, false, rng)
  if (cacheDir) {
    await mkdir(cacheDir, { recursive: true })
    await writeViews(join(cacheDir, 'train.f32'), train.evidence)
    await writeViews(join(cacheDir, 'val.f32'), val.evidence)
    // meta.json last: a folder without it is an unfinished cache and gets prepared again.
    await writeFile(join(cacheDir, 'meta.json.partial'), JSON.stringify({ key, train: train.direction, val: val.direction } satisfies CacheMeta))
    await rename(join(cacheDir, 'meta.json.partial'), join(cacheDir, 'meta.json'))
  }
}
await onnx?.dispose()
console.log(`backend ${backend.backend} (attention maps: ${cachedMeta ? 'cached' : onnx ? onnx.detail : 'tfjs'}); ${train.evidence.length} training views of ${trainEntries.length} pairs, ${val.evidence.length} validation views; ${cachedMeta ? 'read from' : 'prepared in'} ${((performance.now() - t0) / 1000).toFixed(0)} s${cacheDir && !cachedMeta ? ` (kept in ${cacheDir})` : ''}`)

// The epochs' shuffling has its own stream, so a run on cached views shuffles as one that prepared them.
const epochRng = new TrainRng(Number(values.seed) + 1)
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
  const trainLoss = trainer.epoch(train, batch, lr, epochRng)
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
  architecture,
  // What the head was trained on, beside the base's own summary (the head's training is separate).
  training: manifest.training && {
    ...manifest.training,
    directionHead: { pairs: trainEntries.length, views: train.evidence.length, epochs, bestEpoch: best.epoch, validationLoss: Number(best.loss.toFixed(4)), baseValidationLoss: Number(baseLoss.toFixed(4)) },
  },
  metrics: {},
  ...(manifest.shapePrior ? { shapePrior: manifest.shapePrior } : {}),
})
console.log(`wrote ${values.out} (epoch ${best.epoch}, validation ${best.loss.toFixed(4)}; ${saved.parameterCount} parameters)`)
