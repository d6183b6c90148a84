/**
 * onnxruntime-node runner: the fast CPU path (~10x tfjs-wasm on this machine). Imported lazily by
 * the engine so that a process running onnxruntime never loads tfjs.
 */
import { availableParallelism } from 'node:os'
import type { ModelManifest } from '../model-dir'
import type { InferenceSession } from 'onnxruntime-node'
import type { ModelRunner, ModelOutputs, RunOutputs } from './types'

export interface OnnxRunnerOptions {
  /** Threads inside one convolution (intra-op). Default: every core; batch workers pass fewer. */
  threads?: number
  /**
   * The model folder's maps.onnx (the graph without its darkening output), run when a call asks
   * for no darkening: about half the work. Without it such calls run the whole graph.
   */
  mapsBytes?: Uint8Array | null
}

export async function createOnnxRunner(onnxBytes: Uint8Array, manifest: ModelManifest, options: OnnxRunnerOptions = {}): Promise<ModelRunner> {
  const ort = await import('onnxruntime-node')
  const threads = Math.max(1, options.threads ?? availableParallelism())
  const sessionOptions: InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    // The graph is one chain of convolutions: parallelism inside each op is what pays.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    // Worker threads sleep instead of spinning between ops. Measured here with other jobs on the
    // 2 cores: spinning doubled the CPU per inference and made the median 2.5x slower (78 vs 30 ms).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  }
  const session = await ort.InferenceSession.create(onnxBytes, sessionOptions)
  const size = manifest.inputSize
  const inputName = manifest.onnx.inputName
  const [attentionName, darkeningName, directionName] = manifest.onnx.outputNames
  if (!session.inputNames.includes(inputName) || !session.outputNames.includes(attentionName) || !session.outputNames.includes(darkeningName) || (directionName && !session.outputNames.includes(directionName))) {
    await session.release()
    throw new Error(`model.onnx does not have the manifest's input/outputs (${inputName} -> ${manifest.onnx.outputNames.join(', ')})`)
  }
  // maps.onnx only saves work: one that does not open or does not fit is left out (the whole graph runs), and said.
  let mapsSession: InferenceSession | null = null
  let mapsSkipped = ''
  if (options.mapsBytes) {
    try {
      mapsSession = await ort.InferenceSession.create(options.mapsBytes, sessionOptions)
    } catch (err) {
      mapsSkipped = ` (maps.onnx not used: ${String((err as Error)?.message ?? err).split('\n')[0]})`
    }
    if (mapsSession && (!mapsSession.outputNames.includes(attentionName) || mapsSession.outputNames.includes(darkeningName) || (directionName && !mapsSession.outputNames.includes(directionName)))) {
      await mapsSession.release()
      mapsSession = null
      mapsSkipped = ` (maps.onnx not used: its outputs are not the manifest's less the darkening)`
    }
  }
  let released = false
  return {
    runtime: 'onnx',
    backend: 'onnxruntime-cpu',
    detail: `onnxruntime-node ${ort.env.versions?.common ?? ''} CPU, ${threads} thread${threads === 1 ? '' : 's'}${mapsSkipped}`.replace(/\s+/g, ' '),
    size,
    async run(batch: Float32Array, n: number, outputs?: RunOutputs): Promise<ModelOutputs> {
      if (released) throw new Error('the ONNX session was disposed')
      if (batch.length !== n * size * size * 4) throw new Error(`input has ${batch.length} floats, expected ${n}x${size}x${size}x4`)
      const input = new ort.Tensor('float32', batch, [n, size, size, 4])
      const mapsOnly = outputs?.darkening === false && mapsSession !== null
      const result = await (mapsOnly ? mapsSession! : session).run({ [inputName]: input })
      const attention = result[attentionName]
      const out: ModelOutputs = { attention: attention.data as Float32Array, darkening: mapsOnly ? new Float32Array(0) : (result[darkeningName].data as Float32Array) }
      if (directionName) out.direction = result[directionName].data as Float32Array
      // onnxruntime-node tensors own native memory until disposed; the Float32Arrays above are JS copies.
      for (const t of Object.values(result)) t.dispose?.()
      return out
    },
    async dispose() {
      if (released) return
      released = true
      await Promise.all([session.release(), mapsSession?.release()])
    },
  }
}
