import * as tf from '@tensorflow/tfjs'

/**
 * SRGAN-style discriminator (training only; never exported or shipped): blocks of 3x3 convolutions
 * with LeakyReLU(0.2), alternately stride 1 and stride 2, channels doubling, then global average
 * pooling and a small dense head giving one logit per image ("real shadow composite").
 * SRGAN's batch normalisation is left out: batches here are 4-8 images, too few for stable statistics.
 *
 * Input [N,S,S,7]: the shadow-free photo (3), the object mask (1) and the image to judge (3), so
 * it judges whether the shadow fits this scene and this object, not just whether it looks like a shadow.
 */
export interface DiscriminatorConfig {
  size: number
  /** Stride of the first convolution (2 halves the cost of the whole network). */
  firstStride?: number
  /** Channels of the first block; doubles at each stride-2 block up to 8x. */
  baseWidth: number
  /** Number of stride-2 blocks. */
  downsamplings: number
}

/**
 * Sized so the GAN term (weight 0.01) does not double the cost of a training step: measured at
 * 128 px, a base width of 16 with a stride-1 first layer cost ~0.2 GFLOP per image forward, about
 * as much per step as the generator itself; base 8 with a stride-2 first layer costs ~0.015.
 */
export function defaultDiscriminatorConfig(size: number): DiscriminatorConfig {
  return { size, baseWidth: size <= 64 ? 4 : 8, downsamplings: size <= 64 ? 3 : 4, firstStride: 2 }
}

export function buildDiscriminator(config: DiscriminatorConfig): tf.LayersModel {
  const input = tf.input({ name: 'disc_input', shape: [config.size, config.size, 7] })
  const lrelu = (name: string) => tf.layers.leakyReLU({ name, alpha: 0.2 })
  let x = tf.layers.conv2d({ name: 'd_conv0', filters: config.baseWidth, kernelSize: 3, strides: config.firstStride ?? 1, padding: 'same' }).apply(input) as tf.SymbolicTensor
  x = lrelu('d_act0').apply(x) as tf.SymbolicTensor
  let width = config.baseWidth
  for (let i = 1; i <= config.downsamplings; i++) {
    x = tf.layers.conv2d({ name: `d_conv${i}s`, filters: width, kernelSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor
    x = lrelu(`d_act${i}s`).apply(x) as tf.SymbolicTensor
    width = Math.min(width * 2, config.baseWidth * 8)
    x = tf.layers.conv2d({ name: `d_conv${i}`, filters: width, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor
    x = lrelu(`d_act${i}`).apply(x) as tf.SymbolicTensor
  }
  x = tf.layers.globalAveragePooling2d({ name: 'd_pool' }).apply(x) as tf.SymbolicTensor
  x = tf.layers.dense({ name: 'd_fc', units: width * 2 }).apply(x) as tf.SymbolicTensor
  x = lrelu('d_fc_act').apply(x) as tf.SymbolicTensor
  const logit = tf.layers.dense({ name: 'd_logit', units: 1 }).apply(x) as tf.SymbolicTensor
  return tf.model({ name: 'umbra_shadow_discriminator', inputs: input, outputs: logit })
}
