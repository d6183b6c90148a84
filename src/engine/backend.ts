import * as tf from '@tensorflow/tfjs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { registerMissingWasmKernels } from './wasm-kernels'

export type TfBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu'

export interface TfBackendInfo {
  backend: TfBackendName
  /** A line for people: which package/backend runs and why the better ones did not. */
  detail: string
}

const ORDER: TfBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']

let current: Promise<TfBackendInfo> | null = null
let currentPrefer: TfBackendName | undefined

/**
 * Picks the fastest tfjs backend available, in the order tfjs-node-gpu, tfjs-node, wasm, cpu.
 * The native packages are optional dependencies, so they are imported dynamically and their
 * absence is normal. Idempotent: later calls return the first result (unless a different
 * `prefer` is asked for, which re-selects). `prefer` starts the search at that backend.
 * UMBRA_TF_BACKEND=cpu|wasm|tensorflow|tensorflow-gpu does the same from the environment.
 */
export function initTfBackend(prefer?: TfBackendName): Promise<TfBackendInfo> {
  const wanted = prefer ?? (process.env.UMBRA_TF_BACKEND as TfBackendName | undefined)
  if (wanted !== undefined && !ORDER.includes(wanted)) {
    return Promise.reject(new Error(`unknown tfjs backend '${wanted}' (expected one of ${ORDER.join(', ')})`))
  }
  if (current && currentPrefer === wanted) return current
  currentPrefer = wanted
  current = select(wanted)
  return current
}

async function select(prefer?: TfBackendName): Promise<TfBackendInfo> {
  const start = prefer ? ORDER.indexOf(prefer) : 0
  const skipped: string[] = []
  for (const name of ORDER.slice(start)) {
    try {
      const detail = await tryBackend(name)
      return { backend: name, detail: skipped.length ? `${detail} (${skipped.join('; ')})` : detail }
    } catch (err) {
      skipped.push(`${name} unavailable: ${firstLine((err as Error).message)}`)
    }
  }
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`)
}

function firstLine(s: string): string {
  return s.split('\n')[0].slice(0, 160)
}

async function tryBackend(name: TfBackendName): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu': {
      // Registers the 'tensorflow' backend, backed by libtensorflow with CUDA.
      const pkg = '@tensorflow/tfjs-node-gpu'
      await import(/* @vite-ignore */ pkg)
      await setBackendOrThrow('tensorflow')
      return 'tfjs-node-gpu (libtensorflow with CUDA)'
    }
    case 'tensorflow': {
      const pkg = '@tensorflow/tfjs-node'
      await import(/* @vite-ignore */ pkg)
      await setBackendOrThrow('tensorflow')
      return 'tfjs-node (native libtensorflow, CPU)'
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm')
      // In Node the .wasm binaries sit beside the package's dist entry; point tfjs at them explicitly
      // so the lookup does not depend on the current directory or on a bundler.
      const req = createRequire(import.meta.url)
      const distDir = dirname(req.resolve('@tensorflow/tfjs-backend-wasm'))
      wasm.setWasmPaths(join(distDir, '/') + '')
      registerMissingWasmKernels()
      await setBackendOrThrow('wasm')
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
      return `tfjs wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread, training kernels added by Umbra)`
    }
    case 'cpu': {
      await setBackendOrThrow('cpu')
      return 'tfjs cpu (plain JavaScript, slow)'
    }
  }
}

async function setBackendOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name)
  if (!ok) throw new Error(`tf.setBackend('${name}') failed`)
  await tf.ready()
}
