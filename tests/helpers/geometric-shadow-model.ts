/**
 * A tiny DETERMINISTIC shadow model for the editor's tests (unit and browser), used because the
 * real model may not be trained yet and a freshly initialised one casts no shadow at all.
 *
 * It has the engine contract's shape (input [S,S,4] -> attention [S,S,2], darkening [S,S,3]) and
 * only contract layer classes, so it goes through saveModelDir, the ONNX export, onnxruntime and
 * the whole editor path like the real model. Its weights are set by hand, not trained:
 *   - attention: ~0 everywhere (sigmoid of a large negative bias): "no occluders seen";
 *   - cast: the object mask smeared DOWNWARDS (two 9x9 convolutions that gather from the rows
 *     above), i.e. a shadow cast towards the camera, as in a backlit scene like the bundled sample
 *     (sun behind the boats, shadows coming towards the viewer);
 *   - darkening = sigmoid(5 * cast + 6 * occluderShadowMap - 4.5): the shadow block USES the
 *     occluder-shadow attention map, so painted attention corrections visibly change the result.
 * So tests can check geometry (which side, how far, not elsewhere), light steering, attention
 * corrections, export and project round trips; they cannot judge realism (that is the real model's job).
 */
import * as tf from '@tensorflow/tfjs'
import { saveModelDir } from '../../src/engine/model-dir'

export async function buildGeometricShadowModel(size = 64): Promise<tf.LayersModel> {
  const input = tf.input({ name: 'input', shape: [size, size, 4] })
  const conv = (name: string, filters: number, kernel: number, activation: 'linear' | 'sigmoid') =>
    tf.layers.conv2d({ name, filters, kernelSize: kernel, padding: 'same', activation, useBias: true })
  const maskLayer = conv('take_mask', 1, 1, 'linear')
  const mask = maskLayer.apply(input) as tf.SymbolicTensor
  const smear1 = conv('smear_a', 1, 9, 'linear')
  const smear2 = conv('smear_b', 1, 9, 'linear')
  const cast = smear2.apply(smear1.apply(mask)) as tf.SymbolicTensor
  const attLayer = conv('attention', 2, 1, 'sigmoid')
  const attention = attLayer.apply(input) as tf.SymbolicTensor
  const cat = tf.layers.concatenate({ name: 'shadow_in', axis: -1 }).apply([cast, attention]) as tf.SymbolicTensor
  const darkLayer = conv('darkening', 3, 1, 'sigmoid')
  const darkening = darkLayer.apply(cat) as tf.SymbolicTensor
  const model = tf.model({ name: 'geometric_test_shadow', inputs: input, outputs: [attention, darkening] })

  maskLayer.setWeights([tf.tensor4d([0, 0, 0, 1], [1, 1, 4, 1]), tf.tensor1d([0])])
  // Gather from the centre row and the 4 rows above it, 3 columns wide: the output row y sees mask rows y-4..y.
  const k = new Float32Array(9 * 9)
  for (let r = 0; r <= 4; r++) for (let c = 3; c <= 5; c++) k[r * 9 + c] = 1 / 6
  smear1.setWeights([tf.tensor4d(k, [9, 9, 1, 1]), tf.tensor1d([0])])
  smear2.setWeights([tf.tensor4d(k, [9, 9, 1, 1]), tf.tensor1d([0])])
  attLayer.setWeights([tf.zeros([1, 1, 4, 2]), tf.tensor1d([-9, -9])])
  // inputs: cast, occluders, occluder shadows -> the same darkening on R, G, B
  const w = [5, 5, 5, 0, 0, 0, 6, 6, 6]
  darkLayer.setWeights([tf.tensor4d(w, [1, 1, 3, 3]), tf.tensor1d([-4.5, -4.5, -4.5])])
  return model
}

/**
 * Writes the geometric test model as a model folder (manifest, tfjs weights, ONNX). With
 * `castFrame`, its manifest says it works in the cast frame (src/engine/cast-frame.ts): it still
 * casts down its own input, and the pipeline turns that into the direction it is given.
 */
export async function writeGeometricShadowModel(dir: string, size = 64, opts: { castFrame?: boolean } = {}): Promise<void> {
  await tf.setBackend('cpu')
  const model = await buildGeometricShadowModel(size)
  await saveModelDir(dir, model, {
    name: 'geometric test model (hand-set weights, casts downwards)',
    inputSize: size,
    architectureVersion: 'umbra-test-geometric-v1',
    architecture: opts.castFrame ? { size, castFrame: 'down' } : { size },
  })
  model.dispose()
}
