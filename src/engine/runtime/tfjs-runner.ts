/**
 * tfjs runner: the GPU path when tfjs-node-gpu is installed and finds a GPU, and the last resort
 * (wasm, cpu) when onnxruntime cannot load. Backend selection is TRAIN's initTfBackend.
 */
import type { TfBackendName } from '../backend'
import type { ModelRunner, ModelOutputs } from './types'

export interface TfjsRunnerOptions {
  /** Start the backend search here (e.g. 'tensorflow-gpu', or 'cpu' in tests). */
  preferBackend?: TfBackendName
}

export async function createTfjsRunner(modelDir: string, options: TfjsRunnerOptions = {}): Promise<ModelRunner> {
  const [{ initTfBackend }, tf, { loadTfjsModel }] = await Promise.all([
    import('../backend'),
    import('@tensorflow/tfjs'),
    import('../model-dir'),
  ])
  const info = await initTfBackend(options.preferBackend)
  const { model, manifest } = await loadTfjsModel(modelDir)
  const size = manifest.inputSize
  let disposed = false
  return {
    runtime: 'tfjs',
    backend: info.backend,
    detail: info.detail,
    size,
    async run(batch: Float32Array, n: number): Promise<ModelOutputs> {
      if (disposed) throw new Error('the tfjs model was disposed')
      if (batch.length !== n * size * size * 4) throw new Error(`input has ${batch.length} floats, expected ${n}x${size}x${size}x4`)
      // The graph runs inside tidy (intermediates freed); the outputs are read back
      // asynchronously (a GPU backend does not block the event loop) and disposed right after.
      const outputs = tf.tidy(() => model.predict(tf.tensor4d(batch, [n, size, size, 4])) as import('@tensorflow/tfjs').Tensor[])
      try {
        const [attention, darkening, direction] = (await Promise.all(outputs.map((t) => t.data()))) as Float32Array[]
        return direction ? { attention, darkening, direction } : { attention, darkening }
      } finally {
        tf.dispose(outputs)
      }
    },
    async dispose() {
      if (disposed) return
      disposed = true
      model.dispose()
    },
  }
}
