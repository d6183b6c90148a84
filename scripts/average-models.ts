/**
 * Averages the weights of model folders from one training run (a "model soup"): checkpoints a few
 * hundred steps apart lie in one basin, and their mean is usually better than any of them, because
 * the noise of the last steps (GAN term, small batches) averages out. Measured in the sixth session
 * on a tuning split: single checkpoints of runs/att-cal each lost to the shipped model on GRMSE or
 * on LRMSE, the mean of four beat it on both (docs/model.md).
 *
 *   npx tsx scripts/average-models.ts --out DIR [--name NAME] MODEL_DIR [MODEL_DIR ...]
 *
 * The folders must share the architecture and the attention calibration; the result is a complete
 * model folder (tfjs + ONNX + manifest) whose manifest lists what was averaged. With one folder it
 * re-saves that model under a new name.
 */
import { parseArgs } from 'node:util'
import { basename } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../src/engine/backend'
import { loadTfjsModel, saveModelDir } from '../src/engine/model-dir'

const { values, positionals } = parseArgs({ options: { out: { type: 'string' }, name: { type: 'string' } }, allowPositionals: true })
if (!values.out || positionals.length === 0) {
  console.error('usage: npx tsx scripts/average-models.ts --out DIR [--name NAME] MODEL_DIR [MODEL_DIR ...]')
  process.exit(2)
}
await initTfBackend('wasm')
const loaded = await Promise.all(positionals.map((d) => loadTfjsModel(d)))
const first = loaded[0].manifest
for (const [i, { manifest }] of loaded.entries()) {
  if (JSON.stringify(manifest.architecture) !== JSON.stringify(first.architecture) || manifest.inputSize !== first.inputSize) {
    throw new Error(`${positionals[i]} has another architecture than ${positionals[0]}: weights cannot be averaged`)
  }
  if (manifest.training?.attentionPositiveCap !== first.training?.attentionPositiveCap) {
    throw new Error(`${positionals[i]} was trained with another attention calibration than ${positionals[0]}`)
  }
  // A shadow block trained to complement its silhouette prior needs that prior at inference.
  if (Boolean(manifest.training?.shapePriorInLoss) !== Boolean(first.training?.shapePriorInLoss) || JSON.stringify(manifest.shapePrior) !== JSON.stringify(first.shapePrior)) {
    throw new Error(`${positionals[i]} has another silhouette prior than ${positionals[0]} (or was trained without it in the loss)`)
  }
}
const weightSets = loaded.map((l) => l.model.getWeights())
const mean = weightSets[0].map((_, i) => tf.tidy(() => tf.div(tf.addN(weightSets.map((set) => set[i])), weightSets.length)))
const model = loaded[0].model
model.setWeights(mean)
const ingredients = loaded.map(({ manifest }, i) => ({ folder: basename(positionals[i]), name: manifest.name, steps: manifest.training?.steps ?? 0, averageOf: (manifest.training as { averageOf?: unknown } | null)?.averageOf }))
const manifest = await saveModelDir(values.out, model, {
  name: values.name ?? basename(values.out),
  baseModel: first.baseModel,
  inputSize: first.inputSize,
  architectureVersion: first.architectureVersion,
  architecture: first.architecture,
  training: {
    dataCount: Math.max(...loaded.map((l) => l.manifest.training?.dataCount ?? 0)),
    steps: Math.max(...ingredients.map((g) => g.steps)),
    wallTimeSeconds: Math.max(...loaded.map((l) => l.manifest.training?.wallTimeSeconds ?? 0)),
    backend: first.training?.backend ?? 'unknown',
    ...(first.training?.attentionPositiveCap !== undefined ? { attentionPositiveCap: first.training.attentionPositiveCap } : {}),
    ...(first.training?.shapePriorInLoss ? { shapePriorInLoss: true } : {}),
    averageOf: ingredients,
  },
  // Kept: the ingredients share it (checked above), and one trained with it in the loss needs it.
  ...(first.shapePrior ? { shapePrior: first.shapePrior } : {}),
  // The ingredients' validation numbers do not describe the average (and a direction output is
  // trusted only on its own validation, cast-frame.ts directionOutputTrusted).
  metrics: {},
})
tf.dispose(mean)
loaded.forEach((l) => l.model.dispose())
console.log(`wrote ${values.out}: mean of ${positionals.length} model(s), ${manifest.parameterCount} parameters`)
