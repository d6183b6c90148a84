import * as tf from '@tensorflow/tfjs'
import { Worker } from 'node:worker_threads'
import { attentionView, hasDirectionOutput, type ShadowModelConfig } from '../model/architecture'
import type { DiscriminatorConfig } from '../model/discriminator'
import type { TrainExample } from './data'
import type { ShapePrior } from '../shape-prior'
import { discriminatorInput, discriminatorLoss, generatorLoss, viewLoss, type BatchTensors, type LossWeights } from './losses'

/**
 * Data-parallel training steps on worker threads. tfjs-wasm runs one thread per instance in Node,
 * so on a machine with idle cores each extra worker (its own tfjs-wasm, its own model replica)
 * computes the gradients of a slice of the batch; the main thread averages them and applies one
 * optimizer step, then the workers get the new weights with the next step. Measured before: two
 * threads ~1.8x one. The result equals a single-thread step on the whole batch up to the loss's
 * per-batch normalisations (balance ratio and weighted means are computed per slice).
 */
export interface StepGradients {
  g: Float32Array[]
  d: Float32Array[] | null
  losses: StepLosses
  count: number
}

/** Loss terms of one step (batch means); `direction` is 0 for models without a direction output. */
export interface StepLosses {
  total: number
  darkening: number
  image: number
  attention: number
  gradient: number
  adversarial: number
  direction: number
  discriminator: number
}

/**
 * Gradients of the generator and (with gan) discriminator losses for one batch, without applying
 * them: the single-thread step applies them at once, the data-parallel one averages them first.
 * Cast-frame batches with unturned views add the attention block's losses on those views.
 */
export function computeGradients(
  generator: tf.LayersModel,
  discriminator: tf.LayersModel,
  gVars: tf.Variable[],
  dVars: tf.Variable[],
  batch: BatchTensors,
  weights: LossWeights,
  gan: boolean,
): StepGradients {
  let fake: tf.Tensor4D | null = null
  let parts: tf.Scalar[] = []
  const view = batch.view && hasDirectionOutput(generator) ? batch.view : null
  try {
    const gRes = tf.variableGrads(() => {
      const [attention, darkening] = generator.apply(batch.input, { training: true }) as tf.Tensor4D[]
      const loss = generatorLoss({ attention, darkening }, batch, weights, gan ? (img) => discriminator.apply(discriminatorInput(batch, img), { training: true }) as tf.Tensor : null)
      let total = loss.total
      let viewAttention = tf.scalar(0)
      let direction = tf.scalar(0)
      if (view) {
        const [va, vd] = attentionView(generator).apply(view.input, { training: true }) as tf.Tensor4D[]
        const vl = viewLoss({ attention: va, direction: vd }, view, batch.attentionWeight, weights.attentionPositiveCap)
        viewAttention = vl.attention
        direction = vl.direction
        total = tf.addN([total, tf.mul(viewAttention, weights.attention), tf.mul(direction, weights.direction ?? 1)]) as tf.Scalar
      }
      fake = tf.keep(loss.composite)
      // attention: the mean of the turned and (when trained) the unturned crops' terms
      const attentionTerm = view ? (tf.div(tf.add(loss.attention, viewAttention), 2) as tf.Scalar) : loss.attention
      parts = [loss.darkening, loss.image, attentionTerm, loss.gradient, loss.adversarial, direction].map((t) => tf.keep(t))
      return total
    }, gVars)
    // A variable the loss does not reach (the direction output, on a batch without views) gets zeros.
    const g = gVars.map((v) => (gRes.grads[v.name] ? (gRes.grads[v.name].dataSync() as Float32Array) : new Float32Array(v.size)))
    let d: Float32Array[] | null = null
    let dLoss = 0
    if (gan && fake) {
      const judged: tf.Tensor4D = fake
      const dRes = tf.variableGrads(() => {
        const real = discriminator.apply(discriminatorInput(batch, batch.shadow), { training: true }) as tf.Tensor
        const fakeLogits = discriminator.apply(discriminatorInput(batch, judged), { training: true }) as tf.Tensor
        return discriminatorLoss(real, fakeLogits)
      }, dVars)
      d = dVars.map((v) => dRes.grads[v.name].dataSync() as Float32Array)
      dLoss = dRes.value.dataSync()[0]
      tf.dispose([dRes.value, ...Object.values(dRes.grads)])
    }
    const [dk, im, at, gr, adv, dir] = parts.map((p) => p.dataSync()[0])
    const losses = { total: gRes.value.dataSync()[0], darkening: dk, image: im, attention: at, gradient: gr, adversarial: adv, direction: dir, discriminator: dLoss }
    tf.dispose([gRes.value, ...Object.values(gRes.grads)])
    return { g, d, losses, count: batch.input.shape[0] }
  } finally {
    tf.dispose(parts)
    if (fake) tf.dispose(fake as tf.Tensor)
  }
}

/** Applies gradients (in `vars` order) with one optimizer step. */
export function applyGradients(opt: tf.Optimizer, vars: tf.Variable[], grads: Float32Array[]): void {
  const named: Record<string, tf.Tensor> = {}
  vars.forEach((v, i) => (named[v.name] = tf.tensor(grads[i], v.shape)))
  opt.applyGradients(named)
  tf.dispose(Object.values(named))
}

export interface WorkerInit {
  modelConfig: ShadowModelConfig
  discConfig: DiscriminatorConfig
  backend: string
  /** TrainOptions.shapePrior and trainOnly: each replica judges and freezes as the main thread does. */
  shapePrior?: ShapePrior
  trainOnly?: 'shadow'
  /** The frozen weights (generator.nonTrainableWeights, in order): the step messages carry only the trained ones. */
  frozenWeights?: Float32Array[]
}

interface StepRequest {
  type: 'step'
  id: number
  gWeights: Float32Array[]
  dWeights: Float32Array[]
  examples: TrainExample[]
  weights: LossWeights
  gan: boolean
}

/** A pool of gradient workers (bootstrapped through grad-worker.mjs so tsx loads the TypeScript). */
export class GradientWorkerPool {
  private readonly workers: Worker[] = []
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (g: StepGradients) => void; reject: (e: Error) => void }>()

  private constructor() {}

  static async start(count: number, init: WorkerInit): Promise<GradientWorkerPool> {
    const pool = new GradientWorkerPool()
    const url = new URL('./grad-worker.mjs', import.meta.url)
    await Promise.all(
      Array.from({ length: count }, () => {
        const w = new Worker(url, { workerData: init })
        pool.workers.push(w)
        return new Promise<void>((resolve, reject) => {
          const onMessage = (m: { type: string; error?: string }) => {
            if (m.type === 'ready') {
              w.off('message', onMessage)
              w.on('message', (msg: { type: string; id: number; result?: StepGradients; error?: string }) => pool.onResult(msg))
              resolve()
            } else if (m.type === 'error') reject(new Error(`gradient worker failed to start: ${m.error}`))
          }
          w.on('message', onMessage)
          w.once('error', reject)
          w.on('error', (err) => pool.failAll(err))
        })
      }),
    )
    return pool
  }

  get size(): number {
    return this.workers.length
  }

  private onResult(msg: { type: string; id: number; result?: StepGradients; error?: string }): void {
    const p = this.pending.get(msg.id)
    if (!p) return
    this.pending.delete(msg.id)
    if (msg.type === 'result' && msg.result) p.resolve(msg.result)
    else p.reject(new Error(`gradient worker: ${msg.error ?? 'no result'}`))
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
  }

  /** Worker i computes the gradients of `slices[i]` with the given weights. */
  run(slices: TrainExample[][], gWeights: Float32Array[], dWeights: Float32Array[], weights: LossWeights, gan: boolean): Promise<StepGradients[]> {
    return Promise.all(
      slices.map((examples, i) => {
        const id = this.nextId++
        const req: StepRequest = { type: 'step', id, gWeights, dWeights, examples, weights, gan }
        return new Promise<StepGradients>((resolve, reject) => {
          this.pending.set(id, { resolve, reject })
          this.workers[i].postMessage(req)
        })
      }),
    )
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    this.workers.length = 0
  }
}

/** Averages gradient lists weighted by their sample counts. */
export function averageGradients(parts: { grads: Float32Array[]; count: number }[]): Float32Array[] {
  const total = parts.reduce((n, p) => n + p.count, 0)
  return parts[0].grads.map((_, k) => {
    const out = new Float32Array(parts[0].grads[k].length)
    for (const p of parts) {
      const w = p.count / total
      const g = p.grads[k]
      for (let i = 0; i < out.length; i++) out[i] += g[i] * w
    }
    return out
  })
}
