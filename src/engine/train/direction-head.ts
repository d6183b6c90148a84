/**
 * Training a cast-frame model's direction output alone, every other weight frozen.
 *
 * The direction head (architecture.ts: `dir_down*`, `dir_mix`, `direction_bins`) reads
 * concat(photo, object mask, attention maps), the layer `shadow_in`. With the attention block
 * frozen that input is fixed per view, so it is computed once (`evidence`) and each epoch costs only
 * the head (0.014 GFLOP per view at 128 px), not the attention U-Net's pass as well. The
 * attention maps and the shadow in any given direction stay byte for byte what they were; only the
 * belief the pipeline hedges over (pipeline.ts) moves.
 *
 * Why it exists: in full training the head's loss is one term among six and the shipped model is an
 * average of early checkpoints; trained alone for 15 epochs on 4,800 views its validation loss went
 * from 0.854 to 0.644 (docs/model.md, twelfth session).
 */
import * as tf from '@tensorflow/tfjs'
import { directionLoss } from './losses'
import type { TrainRng } from './rng'

/** Views with a known shadow direction, as the head sees them. */
export interface HeadViews {
  /** One S*S*C array per view: the head's input (`shadow_in`). */
  evidence: Float32Array[]
  /** (cos, sin) of each view's cast angle. */
  direction: [number, number][]
}

export interface DirectionHeadTrainer {
  /** The head's input for n model inputs (n*S*S*4, as the generator takes them), one array per input. */
  evidence(inputs: Float32Array, n: number): Float32Array[]
  /** One pass over `views` in a random order, batches of `batch` (a last, partial batch is left out); returns the mean loss. */
  epoch(views: HeadViews, batch: number, learningRate: number, rng: TrainRng): number
  /** Mean loss over `views` (1 = no idea, 0 = exact; losses.ts directionLoss). */
  loss(views: HeadViews, batch?: number): number
  /** A copy of the head's weights, and putting such a copy back (keeping the best epoch). */
  snapshot(): tf.Tensor[]
  restore(weights: tf.Tensor[]): void
  /** Frees the trainer's own tensors (not the generator's). */
  dispose(): void
}

/**
 * The head's input (`shadow_in` = concat(input, attention) per pixel) from model inputs and the
 * attention maps any runtime computed for them: the training script gets the maps from
 * onnxruntime, which runs the model about 5x faster than tfjs-wasm here (`umbra bench`), instead
 * of the tfjs pass of `DirectionHeadTrainer.evidence`.
 * `inputs` n*S*S*4, `attention` n*S*S*2; returns one S*S*6 array per input.
 */
export function evidenceFromAttention(inputs: Float32Array, attention: Float32Array, n: number): Float32Array[] {
  const pixels = inputs.length / 4
  if (!Number.isInteger(pixels / n) || attention.length !== pixels * 2) throw new Error(`inputs (${inputs.length} floats) and attention (${attention.length}) do not describe ${n} images of 4 and 2 channels`)
  const perImage = pixels / n
  return Array.from({ length: n }, (_, i) => {
    const out = new Float32Array(perImage * 6)
    for (let p = 0; p < perImage; p++) {
      const q = i * perImage + p
      out.set(inputs.subarray(q * 4, q * 4 + 4), p * 6)
      out[p * 6 + 4] = attention[q * 2]
      out[p * 6 + 5] = attention[q * 2 + 1]
    }
    return out
  })
}

/** The head's layers in the generator, input to output; throws when the model has no bins output. */
export function directionHeadLayers(generator: tf.LayersModel): tf.layers.Layer[] {
  if (generator.outputNames[2] !== 'direction_bins') throw new Error('the model has no direction output (direction_bins)')
  const layers = generator.layers.filter((l) => /^dir_down\d+$/.test(l.name) || l.name === 'dir_mix' || l.name === 'direction_bins')
  if (!layers.some((l) => l.name === 'dir_mix') || !layers.some((l) => l.name === 'dir_down0')) throw new Error('the direction output is not the head this trainer knows (dir_down*, dir_mix)')
  return layers
}

export function createDirectionHeadTrainer(generator: tf.LayersModel): DirectionHeadTrainer {
  const layers = directionHeadLayers(generator)
  const shadowIn = generator.getLayer('shadow_in').output as tf.SymbolicTensor
  const [, S, , C] = shadowIn.shape as number[]
  const evidenceModel = tf.model({ inputs: generator.inputs, outputs: shadowIn })
  // The same layers (shared weights) applied to a fresh input of the head's shape.
  const headInput = tf.input({ shape: [S, S, C] })
  let x: tf.SymbolicTensor = headInput
  for (const layer of layers) x = layer.apply(x) as tf.SymbolicTensor
  const head = tf.model({ inputs: headInput, outputs: x })
  const vars = layers.flatMap((l) => l.trainableWeights.map((w) => w.read() as tf.Variable))
  const optimizer = tf.train.adam()
  const size = S * S * C

  const batchOf = (views: HeadViews, idx: number[]) => {
    const ev = new Float32Array(idx.length * size)
    idx.forEach((j, i) => ev.set(views.evidence[j], i * size))
    return {
      evidence: tf.tensor4d(ev, [idx.length, S, S, C]),
      direction: tf.tensor2d(idx.flatMap((j) => views.direction[j]), [idx.length, 2]),
      known: tf.ones([idx.length, 1]) as tf.Tensor2D,
    }
  }

  return {
    evidence(inputs, n) {
      const out = tf.tidy(() => evidenceModel.predict(tf.tensor4d(inputs, [n, S, S, 4])) as tf.Tensor)
      const data = out.dataSync() as Float32Array
      out.dispose()
      return Array.from({ length: n }, (_, i) => data.slice(i * size, (i + 1) * size))
    },
    epoch(views, batch, learningRate, rng) {
      ;(optimizer as unknown as { learningRate: number }).learningRate = learningRate
      const order = rng.permutation(views.evidence.length)
      let sum = 0
      let count = 0
      for (let i = 0; i + batch <= order.length; i += batch) {
        const t = batchOf(views, order.slice(i, i + batch))
        const loss = optimizer.minimize(() => directionLoss(head.apply(t.evidence) as tf.Tensor4D, t.direction, t.known), true, vars) as tf.Scalar
        sum += loss.dataSync()[0] * batch
        count += batch
        tf.dispose([loss, ...Object.values(t)])
      }
      return count ? sum / count : NaN
    },
    loss(views, batch = 32) {
      let sum = 0
      for (let i = 0; i < views.evidence.length; i += batch) {
        const idx = Array.from({ length: Math.min(batch, views.evidence.length - i) }, (_, k) => i + k)
        const t = batchOf(views, idx)
        sum += tf.tidy(() => directionLoss(head.predict(t.evidence) as tf.Tensor4D, t.direction, t.known).dataSync()[0]) * idx.length
        tf.dispose(Object.values(t))
      }
      return views.evidence.length ? sum / views.evidence.length : NaN
    },
    snapshot: () => vars.map((v) => v.clone()),
    restore(weights) {
      vars.forEach((v, i) => v.assign(weights[i]))
    },
    dispose() {
      optimizer.dispose()
    },
  }
}
