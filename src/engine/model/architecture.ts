import * as tf from '@tensorflow/tfjs'

/**
 * The generator: an ARShadowGAN-like pair of U-Nets in one tfjs LayersModel (functional API).
 *
 *   input [N,S,S,4] = RGB in [0,1] (shadow-free crop) + inserted-object mask {0,1}
 *   attention U-Net (4 -> 2): occluder mask and occluder-shadow mask, sigmoid      -> output 'attention'
 *   shadow U-Net (6 -> 3) on concat(input, attention) -> coarse darkening logits
 *   refinement block on concat(coarse logits, input, attention), residual on the logits,
 *   sigmoid -> per-channel shadow density d in [0,1]                               -> output 'darkening'
 *   with directionHead: strided 3x3 convs over concat(input, attention) down to the U-Nets' bottom
 *   size, then a 1x1 conv -> per cell, logits over directionBins cast directions
 *   ([N,8,8,16] by default)                                                      -> output 'direction_bins'
 *
 * The composite is rgb * (1 - d): a multiplicative shadow layer (see docs/model.md for why).
 * Only the layer classes listed in the engine contract are used, so the ONNX exporter covers them:
 * Conv2D ('same', stride 1/2, relu/sigmoid/linear), UpSampling2D (nearest, 2), Concatenate, Add, Activation.
 */
export const ARCHITECTURE_VERSION = 'umbra-shadow-unet2-v1'

export interface ShadowModelConfig {
  /** Model resolution S (square); must be a multiple of 2^(levels-1). */
  size: number
  /** Channels per level of the attention U-Net (its length = number of levels). */
  attentionWidths: number[]
  /** Channels per level of the shadow-generation U-Net. */
  shadowWidths: number[]
  /** Channels of the refinement block's convolutions. */
  refineWidth: number
  /** Initial bias of the darkening logits: negative so an untrained model starts by adding almost no shadow. */
  darkeningBiasInit?: number
  /**
   * 'down': the model works in the cast frame (cast-frame.ts): inputs are rotated so the shadow
   * falls straight down, and the caller supplies the direction. Absent: the image frame (the model
   * guesses the direction itself). Changes no layer: it is how the model was trained and must be fed.
   */
  castFrame?: 'down'
  /**
   * A third output from a small encoder over the input and the attention maps: per cell of the
   * U-Nets' bottom grid ([N,8,8,K] at the default 128 px and 5 levels), logits over K =
   * directionBins cast directions (bin k centred on 2 pi k / K, image frame, cast-frame.ts); the
   * softmax of their mean over the cells is the model's belief about where the shadow falls
   * (directionPosterior). Only for cast-frame models, which need a direction.
   */
  directionHead?: boolean
  /**
   * The number of direction bins. Absent with directionHead: the third session's head, two
   * (cos, sin) votes per cell (output 'direction'), trained to the true unit vector. It never
   * learned: on synthetic scenes the light is often known only up to left or right, and the mean of
   * two opposite unit vectors is zero, the "no idea" answer. Bins can say "left or right" (kept only
   * so those research runs still load; the pipeline ignores that output).
   */
  directionBins?: number
  /**
   * Channels of the direction head's layers: one per strided convolution (levels - 1 of them),
   * then the mix convolution. Absent: 16, 16, 32, 32 and 32 at the default 5 levels (16 for the
   * first two strided layers, 32 after), the head every model before the fourteenth session has.
   */
  directionWidths?: number[]
}

/**
 * The default chosen by measurement (docs/model.md): 128 px model resolution, 5 levels (bottom 8x8, so
 * the receptive field covers the whole crop and long shadows), narrow widths so training on this 2-core
 * CPU makes real progress in hours, each a multiple of 16: onnxruntime's blocked convolution kernels
 * need that, and measured here this 1.30-GFLOP design runs in 8.0 ms (162 GFLOP/s, 2 threads) where
 * the previous 0.75-GFLOP one with widths 8/12/20/24 took 8.8 ms (85 GFLOP/s).
 */
export const DEFAULT_MODEL_CONFIG: ShadowModelConfig = {
  size: 128,
  attentionWidths: [16, 16, 32, 32, 48],
  shadowWidths: [16, 32, 32, 48, 64],
  refineWidth: 16,
  darkeningBiasInit: -4,
  castFrame: 'down',
  directionHead: true,
  directionBins: 16,
}

/** A tiny configuration for tests (32 px, 3 levels). */
export const TINY_MODEL_CONFIG: ShadowModelConfig = {
  size: 32,
  attentionWidths: [4, 6, 8],
  shadowWidths: [4, 6, 8],
  refineWidth: 4,
  darkeningBiasInit: -3,
}

/**
 * The config of a run that starts from a trained model (`umbra train --init-from`) whose manifest
 * gives `source`: the default widths where they are at least as wide everywhere (the weights are
 * widened into them, see transferWeights), else the source's own; the source's size; and the
 * source's frame, because an image-frame model's weights mean nothing in the cast frame (and only a
 * cast-frame model gets the direction output).
 */
export function configToGrowFrom(defaults: ShadowModelConfig, source: Partial<ShadowModelConfig>, size: number): ShadowModelConfig {
  if (!source.attentionWidths || !source.shadowWidths || !source.refineWidth) throw new Error("the model's manifest does not give its widths")
  const atLeast = (ws: number[], than: number[]) => ws.length === than.length && ws.every((w, i) => w >= than[i])
  const grows = atLeast(defaults.attentionWidths, source.attentionWidths) && atLeast(defaults.shadowWidths, source.shadowWidths) && defaults.refineWidth >= source.refineWidth
  const widths = grows ? {} : { attentionWidths: source.attentionWidths, shadowWidths: source.shadowWidths, refineWidth: source.refineWidth }
  const castFrame = source.castFrame === 'down' ? ('down' as const) : undefined
  const directionHead = castFrame === 'down' && defaults.directionHead === true
  // A head trained wider than the default's (scripts/train-direction-head.ts --head-widths) keeps its widths.
  const directionWidths = directionHead ? (defaults.directionWidths ?? source.directionWidths) : undefined
  return { ...defaults, ...widths, size, castFrame, directionHead, directionBins: directionHead ? defaults.directionBins : undefined, ...(directionWidths ? { directionWidths } : {}) }
}

export function validateModelConfig(config: ShadowModelConfig): void {
  const levels = Math.max(config.attentionWidths.length, config.shadowWidths.length)
  if (!Number.isInteger(config.size) || config.size < 8) throw new Error(`model size must be an integer >= 8, got ${config.size}`)
  if (config.size % 2 ** (levels - 1) !== 0) {
    throw new Error(`model size ${config.size} must be a multiple of ${2 ** (levels - 1)} for a ${levels}-level U-Net`)
  }
  for (const w of [...config.attentionWidths, ...config.shadowWidths, config.refineWidth]) {
    if (!Number.isInteger(w) || w < 1) throw new Error(`channel widths must be positive integers, got ${w}`)
  }
  if (config.attentionWidths.length < 2 || config.shadowWidths.length < 2) throw new Error('each U-Net needs at least 2 levels')
  if (config.directionHead && config.castFrame !== 'down') throw new Error('a direction output is only for cast-frame models (castFrame: "down")')
  if (config.directionWidths !== undefined) {
    const down = config.attentionWidths.length - 1
    if (!config.directionHead) throw new Error('directionWidths needs directionHead')
    if (config.directionWidths.length !== down + 1 || config.directionWidths.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`directionWidths must be ${down + 1} positive integers (${down} strided layers, then the mix), got ${config.directionWidths.join(', ')}`)
  }
  if (config.directionBins !== undefined && (!Number.isInteger(config.directionBins) || config.directionBins < 4 || config.directionBins > 64)) throw new Error(`directionBins must be an integer from 4 to 64, got ${config.directionBins}`)
}

function conv(name: string, filters: number, opts: { kernel?: number; stride?: number; activation?: 'relu' | 'sigmoid' | 'linear'; biasInit?: number; zeroKernel?: boolean } = {}) {
  return tf.layers.conv2d({
    name,
    filters,
    kernelSize: opts.kernel ?? 3,
    strides: opts.stride ?? 1,
    padding: 'same',
    activation: opts.activation ?? 'relu',
    useBias: true,
    kernelInitializer: opts.zeroKernel ? 'zeros' : 'heNormal',
    biasInitializer: opts.biasInit !== undefined ? tf.initializers.constant({ value: opts.biasInit }) : 'zeros',
  })
}

/**
 * A U-Net: per level two 3x3 convolutions (the first with stride 2 below level 0); the decoder
 * upsamples (nearest), concatenates the skip and applies one 3x3 convolution. Returns the
 * level-0 decoder features.
 */
function unet(prefix: string, input: tf.SymbolicTensor, widths: number[]): tf.SymbolicTensor {
  const skips: tf.SymbolicTensor[] = []
  let x = input
  widths.forEach((w, level) => {
    x = conv(`${prefix}_enc${level}a`, w, { stride: level === 0 ? 1 : 2 }).apply(x) as tf.SymbolicTensor
    x = conv(`${prefix}_enc${level}b`, w).apply(x) as tf.SymbolicTensor
    skips.push(x)
  })
  for (let level = widths.length - 2; level >= 0; level--) {
    const up = tf.layers.upSampling2d({ name: `${prefix}_up${level}`, size: [2, 2], interpolation: 'nearest' }).apply(x) as tf.SymbolicTensor
    const cat = tf.layers.concatenate({ name: `${prefix}_cat${level}`, axis: -1 }).apply([up, skips[level]]) as tf.SymbolicTensor
    x = conv(`${prefix}_dec${level}`, widths[level]).apply(cat) as tf.SymbolicTensor
  }
  return x
}

/** Builds the generator (attention block + shadow block + refinement) with fresh weights. */
export function buildShadowModel(config: ShadowModelConfig = DEFAULT_MODEL_CONFIG): tf.LayersModel {
  validateModelConfig(config)
  const s = config.size
  const input = tf.input({ name: 'input', shape: [s, s, 4] })

  const attFeatures = unet('att', input, config.attentionWidths)
  const attention = conv('attention', 2, { kernel: 1, activation: 'sigmoid' }).apply(attFeatures) as tf.SymbolicTensor

  const shadowIn = tf.layers.concatenate({ name: 'shadow_in', axis: -1 }).apply([input, attention]) as tf.SymbolicTensor
  const shadowFeatures = unet('sh', shadowIn, config.shadowWidths)
  const bias = config.darkeningBiasInit ?? -4
  // Zero kernels on the two layers that make the logits: a fresh model darkens exactly sigmoid(bias)
  // everywhere, whatever its random features (with random kernels here a tiny test model's mean
  // darkening came out anywhere from 0.05 to 0.38); training moves them off zero at the first step.
  const coarse = conv('sh_coarse', 3, { kernel: 1, activation: 'linear', biasInit: bias, zeroKernel: true }).apply(shadowFeatures) as tf.SymbolicTensor

  // Refinement: full-resolution convolutions that see the coarse shadow beside the photo, mask and
  // attention maps, and correct it (residual on the logits, so it starts close to the coarse output).
  const refineIn = tf.layers.concatenate({ name: 'refine_in', axis: -1 }).apply([coarse, shadowIn]) as tf.SymbolicTensor
  let r = conv('refine_a', config.refineWidth).apply(refineIn) as tf.SymbolicTensor
  r = conv('refine_b', config.refineWidth).apply(r) as tf.SymbolicTensor
  const delta = conv('refine_out', 3, { activation: 'linear', zeroKernel: true }).apply(r) as tf.SymbolicTensor
  const logits = tf.layers.add({ name: 'darkening_logits' }).apply([coarse, delta]) as tf.SymbolicTensor
  const darkening = tf.layers.activation({ name: 'darkening', activation: 'sigmoid' }).apply(logits) as tf.SymbolicTensor

  const outputs = [attention, darkening]
  if (config.directionHead) {
    // A small encoder of its own over the photo, the object mask and the attention maps (the
    // evidence: occluders and where their shadows fall), 3x3 convolutions with stride 2 down to
    // the U-Net's bottom size, then one more, so each cell sees about half the crop. Two earlier
    // heads read the attention U-Net's features (level 0, then the bottom level): after 900 and
    // 1,500 steps their loss had barely left 1.0, the loss of not knowing (see directionBins for
    // why). Zero kernel out: the output starts with no opinion (all directions alike), so a trained
    // model grown by it starts unchanged.
    let d = shadowIn
    const down = config.attentionWidths.length - 1
    const widths = config.directionWidths ?? [...Array.from({ length: down }, (_, k) => (k < 2 ? 16 : 32)), 32]
    for (let k = 0; k < down; k++) d = conv(`dir_down${k}`, widths[k], { stride: 2 }).apply(d) as tf.SymbolicTensor
    d = conv('dir_mix', widths[down]).apply(d) as tf.SymbolicTensor
    const head = config.directionBins ? conv('direction_bins', config.directionBins, { kernel: 1, activation: 'linear', zeroKernel: true }) : conv('direction', 2, { kernel: 1, activation: 'linear', zeroKernel: true })
    outputs.push(head.apply(d) as tf.SymbolicTensor)
  }
  return tf.model({ name: 'umbra_shadow_generator', inputs: input, outputs })
}

/**
 * The attention block alone (shares the generator's layers and weights): input -> [attention,
 * direction]. Training runs it on the unturned example, where the direction is still to be read.
 */
export function attentionView(generator: tf.LayersModel): tf.LayersModel {
  const cached = attentionViews.get(generator)
  if (cached) return cached
  const view = tf.model({
    name: 'umbra_attention_view',
    inputs: generator.inputs,
    outputs: [generator.outputs[0], generator.outputs[2]],
  })
  attentionViews.set(generator, view)
  return view
}

const attentionViews = new WeakMap<tf.LayersModel, tf.LayersModel>()

/**
 * Whether this generator has the direction output that training and the pipeline use (the bins of
 * config.directionBins; the third session's two-vote head is left alone).
 */
export function hasDirectionOutput(generator: tf.LayersModel): boolean {
  return generator.outputNames[2] === 'direction_bins'
}

/** Forward multiply-adds x2 per sample, from the layer shapes (convolutions dominate; the rest is counted roughly). */
export function modelGflops(model: tf.LayersModel): number {
  let flops = 0
  for (const layer of model.layers) {
    const cls = layer.getClassName()
    const out = layer.outputShape as number[]
    const outElems = out.slice(1).reduce((a, b) => a * (b ?? 1), 1)
    if (cls === 'Conv2D') {
      const kernel = (layer.getWeights()[0] as tf.Tensor).shape
      const [kh, kw, cin] = kernel
      flops += 2 * kh * kw * cin * outElems
    } else if (cls === 'Conv2DTranspose') {
      const kernel = (layer.getWeights()[0] as tf.Tensor).shape
      const [kh, kw, , cin] = kernel
      flops += (2 * kh * kw * cin * outElems) / 4
    } else if (cls !== 'InputLayer') {
      flops += outElems
    }
  }
  return flops / 1e9
}

export function countParams(model: tf.LayersModel): number {
  return model.countParams()
}
