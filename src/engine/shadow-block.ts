/**
 * The shadow-generation block on its own, with the attention maps as an INPUT instead of the
 * attention block's prediction: what the editor runs when the user has painted corrections to the
 * occluder / occluder-shadow maps, so that the generated shadow follows the corrected maps.
 *
 * Nothing is retrained or re-exported: the block is cut out of the shipped model.
 * - onnxruntime: graph surgery on model.onnx. The tensor that feeds the `attention` output's
 *   NHWC transpose is the attention map inside the graph; every other consumer of it is rewired to
 *   a new input `attention_given` (NHWC, transposed to NCHW once), only the `darkening` output is
 *   kept and nodes it no longer needs (the attention block) are pruned.
 * - tfjs: the functional graph is re-applied layer by layer (shared weights) with the attention
 *   output's tensor replaced by a new input.
 * Both compute exactly the full model's darkening when given the model's own attention maps
 * (tested), so corrected maps change only what the maps change.
 */
import { UserError } from '../core/errors'
import { loadOnnxBytes, loadTfjsModel, readModelManifest, type ModelManifest } from './model-dir'
import { onnx } from './onnx/onnx-proto'
import type { OnnxTypes } from './onnx/onnx-proto'
import { pruneGraph } from './onnx/subgraph'
import type * as TF from '@tensorflow/tfjs'

export const GIVEN_ATTENTION_INPUT = 'attention_given'

export interface ShadowBlock {
  size: number
  /** batch: n*S*S*4 (RGB + mask), attention: n*S*S*2 (occluders, occluder shadows) -> darkening n*S*S*3. */
  run(batch: Float32Array, attention: Float32Array, n: number): Promise<Float32Array>
  dispose(): Promise<void>
}

/** Rewrites a serialised model (the engine's export: one NHWC input, outputs attention + darkening) into the shadow block. */
export function shadowBlockOnnx(bytes: Uint8Array, manifest: Pick<ModelManifest, 'inputSize' | 'onnx'>): Uint8Array {
  const model = onnx.ModelProto.decode(bytes)
  const graph = model.graph
  if (!graph) throw new UserError('MODEL_CORRUPT', 'model.onnx has no graph')
  const [attentionName, darkeningName] = manifest.onnx.outputNames
  const nodes = graph.node ?? []
  const attentionNode = nodes.find((n) => (n.output ?? []).includes(attentionName))
  if (!attentionNode || !attentionNode.input?.[0]) throw new UserError('MODEL_CORRUPT', `model.onnx has no node producing '${attentionName}'`)
  const inner = attentionNode.input[0]
  const S = manifest.inputSize
  const givenNchw = `${GIVEN_ATTENTION_INPUT}_nchw`
  const rewired: OnnxTypes.INodeProto[] = nodes
    .filter((n) => n !== attentionNode)
    .map((n) => ({ ...n, input: (n.input ?? []).map((i) => (i === inner ? givenNchw : i)) }))
  rewired.unshift({
    opType: 'Transpose',
    name: `${GIVEN_ATTENTION_INPUT}_to_nchw`,
    input: [GIVEN_ATTENTION_INPUT],
    output: [givenNchw],
    attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 3, 1, 2] }],
  })
  // Keep only what the darkening output needs (drops the attention block), and read the given maps.
  const pruned = pruneGraph({ ...graph, node: rewired }, [darkeningName])
  const out: OnnxTypes.IModelProto = {
    ...model,
    graph: {
      ...pruned,
      input: [
        ...(pruned.input ?? []),
        {
          name: GIVEN_ATTENTION_INPUT,
          type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: S }, { dimValue: S }, { dimValue: 2 }] } } },
        },
      ],
    },
  }
  return onnx.ModelProto.encode(onnx.ModelProto.create(out)).finish()
}

/** Opens the shadow block of a model folder on the given runtime ('onnx' = onnxruntime-node, 'tfjs' = the active tfjs backend). */
export async function openShadowBlock(modelDir: string, runtime: 'onnx' | 'tfjs', options: { threads?: number } = {}): Promise<ShadowBlock> {
  const manifest = await readModelManifest(modelDir)
  const S = manifest.inputSize
  const check = (batch: Float32Array, attention: Float32Array, n: number) => {
    if (batch.length !== n * S * S * 4) throw new Error(`input has ${batch.length} floats, expected ${n}x${S}x${S}x4`)
    if (attention.length !== n * S * S * 2) throw new Error(`attention has ${attention.length} floats, expected ${n}x${S}x${S}x2`)
  }
  if (runtime === 'onnx') {
    const { bytes } = await loadOnnxBytes(modelDir)
    const ort = await import('onnxruntime-node')
    const { availableParallelism } = await import('node:os')
    const session = await ort.InferenceSession.create(shadowBlockOnnx(bytes, manifest), {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: Math.max(1, options.threads ?? availableParallelism()),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      logSeverityLevel: 3,
    })
    const darkeningName = manifest.onnx.outputNames[1]
    return {
      size: S,
      async run(batch, attention, n) {
        check(batch, attention, n)
        const result = await session.run({
          [manifest.onnx.inputName]: new ort.Tensor('float32', batch, [n, S, S, 4]),
          [GIVEN_ATTENTION_INPUT]: new ort.Tensor('float32', attention, [n, S, S, 2]),
        })
        const d = result[darkeningName].data as Float32Array
        for (const t of Object.values(result)) t.dispose?.()
        return d
      },
      dispose: () => session.release(),
    }
  }
  const tf = await import('@tensorflow/tfjs')
  const { initTfBackend } = await import('./backend')
  await initTfBackend()
  const { model } = await loadTfjsModel(modelDir)
  const block = shadowBlockModel(tf, model, S)
  return {
    size: S,
    async run(batch, attention, n) {
      check(batch, attention, n)
      const out = tf.tidy(() => block.predict([tf.tensor4d(batch, [n, S, S, 4]), tf.tensor4d(attention, [n, S, S, 2])]) as TF.Tensor)
      try {
        return (await out.data()) as Float32Array
      } finally {
        out.dispose()
      }
    },
    async dispose() {
      model.dispose()
    },
  }
}

/**
 * The shadow block of a loaded tfjs model as a model of its own: inputs [N,S,S,4] (RGB + mask) and
 * the attention maps [N,S,S,2], output the darkening. Its layers are the model's (shared weights):
 * training it trains the model.
 */
export function shadowBlockModel(tf: typeof TF, model: TF.LayersModel, S: number): TF.LayersModel {
  const input = tf.input({ name: 'block_input', shape: [S, S, 4] })
  const given = tf.input({ name: GIVEN_ATTENTION_INPUT, shape: [S, S, 2] })
  const replaced = new Map<number, TF.SymbolicTensor>([
    [model.inputs[0].id, input],
    [model.outputs[0].id, given],
  ])
  const visit = (t: TF.SymbolicTensor): TF.SymbolicTensor => {
    const known = replaced.get(t.id)
    if (known) return known
    const args = t.inputs.map(visit)
    const applied = t.sourceLayer.apply(args.length === 1 ? args[0] : args) as TF.SymbolicTensor | TF.SymbolicTensor[]
    const out = Array.isArray(applied) ? applied[t.outputTensorIndex ?? 0] : applied
    replaced.set(t.id, out)
    return out
  }
  return tf.model({ inputs: [input, given], outputs: visit(model.outputs[1]) })
}
