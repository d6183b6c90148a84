/**
 * Saves a freshly initialised generator of the current architecture as a model folder, for
 * developing and benchmarking inference before a trained model exists.
 *   npx tsx scripts/make-dev-model.ts [OUT_DIR]   (default data/models/dev-init)
 */
import * as tf from '@tensorflow/tfjs'
import { ARCHITECTURE_VERSION, DEFAULT_MODEL_CONFIG, buildShadowModel } from '../src/engine/model/architecture'
import { saveModelDir } from '../src/engine/model-dir'

const out = process.argv[2] ?? 'data/models/dev-init'
await tf.setBackend('cpu')
const model = buildShadowModel(DEFAULT_MODEL_CONFIG)
const manifest = await saveModelDir(out, model, {
  name: 'dev-init (untrained)',
  inputSize: DEFAULT_MODEL_CONFIG.size,
  architectureVersion: ARCHITECTURE_VERSION,
  architecture: { ...DEFAULT_MODEL_CONFIG },
})
console.log(`wrote ${out}: ${manifest.parameterCount} parameters, ${(manifest.onnx.flops / 1e9).toFixed(2)} GFLOP per inference at ${manifest.inputSize} px`)
