import { describe, expect, it, beforeAll } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { initTfBackend } from '../../../src/engine/backend'

/** Max abs difference, relative to the largest magnitude of the reference. */
function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let maxDiff = 0, maxRef = 1e-6
  for (let i = 0; i < ref.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - ref[i]))
    maxRef = Math.max(maxRef, Math.abs(ref[i]))
  }
  return maxDiff / maxRef
}

async function gradsOn(backend: string, xs: { x: Float32Array; xShape: number[]; w: Float32Array; wShape: number[] }, f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Scalar) {
  await tf.setBackend(backend)
  const x = tf.tensor4d(xs.x, xs.xShape as [number, number, number, number])
  const w = tf.tensor4d(xs.w, xs.wShape as [number, number, number, number])
  const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([x, w])
  const out = { dx: gx.dataSync().slice(), dw: gw.dataSync().slice() }
  tf.dispose([x, w, gx, gw])
  return out
}

function rand(n: number, seed: number): Float32Array {
  let s = seed
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0
    out[i] = (s / 4294967296) * 2 - 1
  }
  return out
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    const info = await initTfBackend('wasm')
    expect(info.backend).toBe('wasm')
  })

  const cases: { name: string; x: number[]; k: number; cin: number; cout: number; stride: number; pad: 'same' | 'valid' }[] = [
    { name: '3x3 stride 1 same', x: [2, 9, 10, 3], k: 3, cin: 3, cout: 5, stride: 1, pad: 'same' },
    { name: '3x3 stride 2 same (odd size)', x: [2, 9, 11, 3], k: 3, cin: 3, cout: 4, stride: 2, pad: 'same' },
    { name: '4x4 stride 2 same', x: [1, 8, 8, 2], k: 4, cin: 2, cout: 3, stride: 2, pad: 'same' },
    { name: '1x1 stride 1', x: [3, 5, 6, 4], k: 1, cin: 4, cout: 2, stride: 1, pad: 'same' },
    { name: '5x5 stride 1 valid', x: [1, 9, 9, 2], k: 5, cin: 2, cout: 3, stride: 1, pad: 'valid' },
    { name: '3x3 stride 2 valid', x: [2, 10, 9, 3], k: 3, cin: 3, cout: 2, stride: 2, pad: 'valid' },
  ]

  for (const c of cases) {
    it(`conv2d gradients match the cpu backend: ${c.name}`, async () => {
      const inputs = {
        x: rand(c.x.reduce((a, b) => a * b), 1),
        xShape: c.x,
        w: rand(c.k * c.k * c.cin * c.cout, 2),
        wShape: [c.k, c.k, c.cin, c.cout],
      }
      // A loss with a non-uniform upstream gradient, so every position of dy matters.
      const f = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.conv2d(x, w, c.stride, c.pad).square().mul(0.5).sum() as tf.Scalar
      const onWasm = await gradsOn('wasm', inputs, f)
      const onCpu = await gradsOn('cpu', inputs, f)
      await tf.setBackend('wasm')
      expect(relErr(onWasm.dw, onCpu.dw)).toBeLessThan(1e-4)
      expect(relErr(onWasm.dx, onCpu.dx)).toBeLessThan(1e-4)
    })
  }

  it('Conv2DTranspose (stride 2) trains on wasm and matches cpu gradients', async () => {
    const inputs = { x: rand(2 * 4 * 4 * 3, 3), xShape: [2, 4, 4, 3], w: rand(2 * 2 * 5 * 3, 4), wShape: [2, 2, 5, 3] }
    const f = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.conv2dTranspose(x, w, [2, 8, 8, 5], 2, 'same').square().sum() as tf.Scalar
    const onWasm = await gradsOn('wasm', inputs, f)
    const onCpu = await gradsOn('cpu', inputs, f)
    await tf.setBackend('wasm')
    expect(relErr(onWasm.dw, onCpu.dw)).toBeLessThan(1e-4)
    expect(relErr(onWasm.dx, onCpu.dx)).toBeLessThan(1e-4)
  })

  it('the replacement kernels leave no tensors behind', async () => {
    await tf.setBackend('wasm')
    const x = tf.tensor4d(rand(2 * 8 * 8 * 3, 5), [2, 8, 8, 3])
    const w = tf.tensor4d(rand(3 * 3 * 3 * 4, 6), [3, 3, 3, 4])
    const before = tf.memory().numTensors
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').sum() as tf.Scalar)([x, w])
    tf.dispose([gx, gw])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([x, w])
  })
})
