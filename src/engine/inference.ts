/**
 * The shadow engine: one loaded model behind one runtime, ready to run batches at model resolution.
 *
 * Runtime choice ('auto'): tfjs-node-gpu when it is installed and this machine has an NVIDIA GPU
 * (and the backend really comes up as 'tensorflow-gpu'), else onnxruntime-node (CPU, fast), else
 * tfjs on the best backend initTfBackend finds (tfjs-node, wasm, cpu). onnxruntime and tfjs are
 * imported only when chosen: a process that runs onnxruntime never loads tfjs.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { UserError } from '../core/errors'
import { defaultModelDir, loadMapsOnnxBytes, loadOnnxBytes, readModelManifest, type ModelManifest } from './model-dir'
import type { ModelOutputs, ModelRunner, RunOutputs, RuntimeChoice, RuntimeName } from './runtime/types'
import type { TfBackendName } from './backend'

export type { ModelOutputs, RuntimeChoice, RuntimeName } from './runtime/types'

export interface ShadowEngineOptions {
  /** Model folder; default resources/models/default. */
  modelDir?: string
  runtime?: RuntimeChoice
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number
  /** tfjs backend to start the search at (tests pin 'cpu'). */
  tfBackend?: TfBackendName
}

export interface ShadowEngine {
  runtime: RuntimeName
  /** 'onnxruntime-cpu', 'tensorflow-gpu', 'tensorflow', 'wasm' or 'cpu'. */
  backend: string
  /** One line for people: what runs, with how many threads, and why faster options were skipped. */
  detail: string
  modelDir: string
  manifest: ModelManifest
  /** Model resolution S. */
  size: number
  /**
   * batchNHWC: n*S*S*4 floats (RGB in [0,1], object mask in {0,1}). `outputs.darkening` false: the
   * darkening is not needed and may come back empty (onnxruntime then runs maps.onnx, half the work).
   */
  infer(batchNHWC: Float32Array, n: number, outputs?: RunOutputs): Promise<ModelOutputs>
  /**
   * The shadow block on given attention maps (n*S*S*2) instead of the model's own: present when the
   * caller corrected the maps (the editor), so that every pass of the pipeline shades with them.
   */
  shade?(batchNHWC: Float32Array, attention: Float32Array, n: number): Promise<Float32Array>
  dispose(): Promise<void>
}

/** True when @tensorflow/tfjs-node-gpu is installed and an NVIDIA device node exists (cheap checks, no import). */
function gpuTfjsLooksUsable(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu')
  } catch {
    return false
  }
  return existsSync('/dev/nvidiactl') || existsSync('/dev/nvidia0') || process.platform === 'win32'
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200)
}

async function openRunner(modelDir: string, manifest: ModelManifest, options: ShadowEngineOptions): Promise<ModelRunner> {
  const choice = options.runtime ?? 'auto'
  const skipped: string[] = []
  const withSkipped = (runner: ModelRunner): ModelRunner =>
    skipped.length ? { ...runner, run: runner.run, dispose: runner.dispose, detail: `${runner.detail} (${skipped.join('; ')})` } : runner

  if (choice === 'auto' && gpuTfjsLooksUsable()) {
    const { createTfjsRunner } = await import('./runtime/tfjs-runner')
    try {
      const runner = await createTfjsRunner(modelDir, { preferBackend: 'tensorflow-gpu' })
      if (runner.backend === 'tensorflow-gpu') return runner
      skipped.push(`tfjs-node-gpu came up as ${runner.backend}`)
      await runner.dispose()
    } catch (err) {
      if (err instanceof UserError) throw err
      skipped.push(`tfjs-node-gpu unavailable: ${firstLine(err)}`)
    }
  }
  if (choice === 'auto' || choice === 'onnx') {
    const { bytes } = await loadOnnxBytes(modelDir)
    const mapsBytes = await loadMapsOnnxBytes(modelDir, manifest)
    try {
      const { createOnnxRunner } = await import('./runtime/onnx-runner')
      return withSkipped(await createOnnxRunner(bytes, manifest, { threads: options.threads, mapsBytes }))
    } catch (err) {
      if (choice === 'onnx') throw new UserError('RUNTIME_UNAVAILABLE', `onnxruntime-node cannot run this model here: ${firstLine(err)}`)
      skipped.push(`onnxruntime unavailable: ${firstLine(err)}`)
    }
  }
  const { createTfjsRunner } = await import('./runtime/tfjs-runner')
  try {
    return withSkipped(await createTfjsRunner(modelDir, { preferBackend: options.tfBackend }))
  } catch (err) {
    if (err instanceof UserError) throw err
    throw new UserError('RUNTIME_UNAVAILABLE', `no inference runtime could start: ${[...skipped, `tfjs: ${firstLine(err)}`].join('; ')}`)
  }
}

/** Loads a model folder (checksums verified) and opens the runtime. Call dispose() when done. */
export async function createShadowEngine(options: ShadowEngineOptions = {}): Promise<ShadowEngine> {
  const usingDefault = options.modelDir === undefined
  const modelDir = options.modelDir ?? defaultModelDir()
  let manifest: ModelManifest
  try {
    manifest = await readModelManifest(modelDir)
  } catch (err) {
    if (usingDefault && err instanceof UserError && err.code === 'MODEL_NOT_FOUND') {
      throw new UserError(
        'NO_MODEL',
        `no shadow model is installed (looked in ${modelDir}). Train one with \`umbra train --data DIR --out MODEL_DIR\` ` +
          'and pass it with --model MODEL_DIR, or copy a trained model folder to resources/models/default.',
      )
    }
    throw err
  }
  const runner = await openRunner(modelDir, manifest, options)
  if (runner.size !== manifest.inputSize) {
    await runner.dispose()
    throw new UserError('MODEL_CORRUPT', `${modelDir}: the model runs at ${runner.size} px but the manifest says ${manifest.inputSize}`)
  }
  return {
    runtime: runner.runtime,
    backend: runner.backend,
    detail: runner.detail,
    modelDir,
    manifest,
    size: manifest.inputSize,
    infer: (batch, n, outputs) => runner.run(batch, n, outputs),
    dispose: () => runner.dispose(),
  }
}
