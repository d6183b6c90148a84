/**
 * Small U-Nets that use every layer class the engine contract allows (odd channel counts, both
 * outputs), for exporter, runtime and pipeline tests that must not wait for the real architecture.
 */
import * as tf from '@tensorflow/tfjs'
import { expect } from 'vitest'
import type { RawImage } from '../../../src/core/image'

type ST = tf.SymbolicTensor

/** Builds a two-block shadow U-Net with the contract's input/outputs: input [S,S,4] -> attention [S,S,2], darkening [S,S,3]. */
export function buildTestShadowModel(size = 32, width = 5, seed = 1): tf.LayersModel {
  let n = 0
  const init = () => tf.initializers.glorotUniform({ seed: seed * 1000 + n++ })
  const bias = () => tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: seed * 1000 + n++ })
  const conv = (x: ST, filters: number, opts: Partial<{ k: number; s: number; act: 'linear' | 'relu' | 'sigmoid' | 'tanh'; name: string }> = {}) =>
    tf.layers
      .conv2d({
        filters,
        kernelSize: opts.k ?? 3,
        strides: opts.s ?? 1,
        padding: 'same',
        activation: opts.act ?? 'linear',
        kernelInitializer: init(),
        biasInitializer: bias(),
        name: opts.name,
      })
      .apply(x) as ST
  const input = tf.input({ shape: [size, size, 4], name: 'input' })

  // Attention block: strided conv + both poolings down, transposed convs (kernel 2 and 4) and nearest upsampling up.
  const a1 = tf.layers.leakyReLU({ alpha: 0.2 }).apply(conv(input, width)) as ST // S
  const a2 = conv(a1, width + 2, { s: 2, act: 'relu' }) // S/2
  const a3 = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(conv(a2, 9, { act: 'tanh' })) as ST // S/4
  const a4 = tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }).apply(a3) as ST // S/8
  const u3 = tf.layers.conv2dTranspose({ filters: 7, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init(), biasInitializer: bias(), activation: 'relu' }).apply(a4) as ST // S/4
  const c3 = tf.layers.concatenate({ axis: -1 }).apply([u3, a3]) as ST
  const u2 = tf.layers.conv2dTranspose({ filters: 5, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: init(), biasInitializer: bias() }).apply(c3) as ST // S/2
  const m2 = tf.layers.add().apply([u2, conv(a2, 5)]) as ST
  const u1 = tf.layers.upSampling2d({ size: [2, 2] }).apply(tf.layers.reLU().apply(m2) as ST) as ST // S
  const attention = conv(tf.layers.concatenate().apply([u1, a1]) as ST, 2, { act: 'sigmoid', name: 'attention_logits' })
  const attentionOut = tf.layers.activation({ activation: 'linear', name: 'attention' }).apply(attention) as ST

  // Shadow block: takes RGB + mask + attention (6 channels), refinement with a multiplicative gate.
  const s0 = tf.layers.concatenate().apply([input, attentionOut]) as ST
  const s1 = conv(s0, 3, { k: 5, act: 'relu' })
  const s2 = conv(s1, width, { s: 2 })
  const s2a = tf.layers.activation({ activation: 'tanh' }).apply(s2) as ST
  const s3 = tf.layers.upSampling2d({ size: [2, 2] }).apply(s2a) as ST
  const gate = conv(s3, 3, { act: 'sigmoid' })
  const refined = tf.layers.multiply().apply([gate, conv(tf.layers.concatenate().apply([s3, s1]) as ST, 3, { k: 1 })]) as ST
  const darkening = tf.layers.activation({ activation: 'sigmoid', name: 'darkening' }).apply(refined) as ST
  return tf.model({ inputs: input, outputs: [attentionOut, darkening], name: 'test_shadow_model' })
}

/** A deterministic input batch: smooth RGB, a blob mask. */
export function testInput(size: number, n = 1, seed = 3): Float32Array {
  const out = new Float32Array(n * size * size * 4)
  let s = seed
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648)
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = ((b * size + y) * size + x) * 4
        out[i] = 0.5 + 0.4 * Math.sin(x / 3 + b)
        out[i + 1] = rand()
        out[i + 2] = y / size
        out[i + 3] = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 5) ** 2 ? 1 : 0
      }
    }
  }
  return out
}

/**
 * A plain grey (180) photo with a 20 x 40 px object standing at (110..130, 100..140), and its mask:
 * the pipeline tests' scene, where any darkening is the shadow's.
 */
export function greySceneWithPost(width = 240, height = 240): { image: RawImage; mask: RawImage } {
  const image: RawImage = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(180) }
  const mask: RawImage = { width, height, channels: 1, data: new Uint8Array(width * height) }
  for (let y = 100; y < 140; y++) for (let x = 110; x < 130; x++) mask.data[y * width + x] = 255
  return { image, mask }
}

/** The largest absolute difference between two arrays of the same length (the length is checked). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}
