/** What every inference runtime (onnxruntime-node, tfjs) offers the engine. Plain data in and out. */
export type RuntimeName = 'onnx' | 'tfjs'
export type RuntimeChoice = 'auto' | RuntimeName

/**
 * What a run must compute. `darkening: false`: the caller does not read the darkening (a
 * cast-frame model's first pass), so a runner may skip the shadow block and return it empty.
 */
export interface RunOutputs {
  darkening?: boolean
}

export interface ModelOutputs {
  /** [n, S, S, 2] NHWC: occluder mask, occluder-shadow mask (sigmoid). */
  attention: Float32Array
  /** [n, S, S, 3] NHWC: per-channel shadow density d in [0, 1]; empty when the run was asked for no darkening and skipped it. */
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
  run(batch: Float32Array, n: number, outputs?: RunOutputs): Promise<ModelOutputs>
  dispose(): Promise<void>
}
