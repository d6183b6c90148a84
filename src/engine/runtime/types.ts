/** What every inference runtime (onnxruntime-node, tfjs) offers the engine. Plain data in and out. */
export type RuntimeName = 'onnx' | 'tfjs'
export type RuntimeChoice = 'auto' | RuntimeName

export interface ModelOutputs {
  /** [n, S, S, 2] NHWC: occluder mask, occluder-shadow mask (sigmoid). */
  attention: Float32Array
  /** [n, S, S, 3] NHWC: per-channel shadow density d in [0, 1]. */
  darkening: Float32Array
  /** [n, h, w, 2] NHWC: (cos, sin) votes for the cast angle, one per cell of the attention block's bottom level (models with a direction output only). */
  direction?: Float32Array
}

export interface ModelRunner {
  runtime: RuntimeName
  /** Short backend name: 'onnxruntime-cpu', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'. */
  backend: string
  /** One line for people (threads, SIMD, why a faster option was not used). */
  detail: string
  /** Model resolution S. */
  size: number
  /** batch: n*S*S*4 floats, NHWC (RGB in [0,1] + object mask in {0,1}). */
  run(batch: Float32Array, n: number): Promise<ModelOutputs>
  dispose(): Promise<void>
}
