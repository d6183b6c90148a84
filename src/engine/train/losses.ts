import * as tf from '@tensorflow/tfjs'

/**
 * Generator and discriminator losses.
 *
 * Published recipes: ARShadowGAN-like re-implementation 10 x L2 + 1 x perceptual + 0.01 x adversarial;
 * SGRNet mask x10, image x10, GAN x0.1. No pretrained VGG is available offline, so the perceptual
 * term is replaced by an image-gradient L1 (edges of the shadow in the right place, soft where the
 * target is soft). The object's shadow covers a few percent of the crop, so the darkening loss is
 * balanced: pixels near the ground-truth object shadow weigh as much in total as all the others,
 * otherwise "add no shadow" is a strong local minimum. Pixels outside it still count fully, so
 * misplaced dark pixels are penalised (they cost global error on real photos).
 */
export interface LossWeights {
  darkening: number
  /**
   * Cap of the shadow-region balance ratio (see shadowBalanceWeights); default 30. High early on so
   * the model leaves the "no shadow" minimum; lower later, so a pixel that is only possibly shadow
   * is darkened less (misplaced dark pixels cost global error). The training loop schedules it.
   */
  shadowBalanceCap?: number
  image: number
  attention: number
  gradient: number
  adversarial: number
  /** Direction output (models with one): squared error of the mean (cos, sin) vote. Default 1. */
  direction?: number
  /**
   * Cap of the attention maps' positive-class weight (balancedBce); default 10. A weight w moves
   * the optimum for a pixel that is positive with probability q to wq / (wq + 1 - q): at 10, a 10%
   * chance already reads as 0.53, so the maps swell over anything that might be an occluder (the
   * occluder map swallowed its own shadow, which spoils the scene's direction reading). 1 trains
   * calibrated maps.
   */
  attentionPositiveCap?: number
}

export const DEFAULT_LOSS_WEIGHTS: LossWeights = { darkening: 10, image: 10, attention: 1, gradient: 1, adversarial: 0.01, direction: 1 }

export interface BatchTensors {
  input: tf.Tensor4D // [B,S,S,4]
  noShadow: tf.Tensor4D // [B,S,S,3]
  shadow: tf.Tensor4D // [B,S,S,3]
  attention: tf.Tensor4D // [B,S,S,2]
  objectShadow: tf.Tensor4D // [B,S,S,1]
  object: tf.Tensor4D // [B,S,S,1]
  /** [B,1,1,2]: 1 where the occluder / occluder-shadow mask is known, 0 where it is not (fine-tuning pairs); absent = all known. */
  attentionWeight?: tf.Tensor4D
  /** Cast-frame examples: the unturned crops (TrainExample.view), for the attention block and the direction output. */
  view?: ViewTensors
  /**
   * Training with the model's silhouette prior in the loss (stackBatch with a ShapePrior): the
   * darkening judged is clip(gain * model + base), as the pipeline mixes it (mixShapePrior).
   * gain [B,S,S,1] is modelGain x the cast support; base [B,S,S,3] is weight x the projection.
   */
  prior?: { gain: tf.Tensor4D; base: tf.Tensor4D }
}

/**
 * The darkening the pipeline would use: the shadow block's own, or with a prior in the batch
 * (BatchTensors.prior) its mix with the projected silhouette, clipped to [0, 1].
 */
export function judgedDarkening(darkening: tf.Tensor4D, batch: Pick<BatchTensors, 'prior'>): tf.Tensor4D {
  if (!batch.prior) return darkening
  return tf.clipByValue(tf.add(tf.mul(darkening, batch.prior.gain), batch.prior.base), 0, 1) as tf.Tensor4D
}

export interface ViewTensors {
  input: tf.Tensor4D // [B,S,S,4]
  attention: tf.Tensor4D // [B,S,S,2]
  direction: tf.Tensor2D // [B,2] unit vectors (0 where unknown)
  directionKnown: tf.Tensor2D // [B,1] 1 = the shadow's direction is known
}

/** d* = clamp(1 - shadow/noshadow) per channel: the darkening that turns the shadow-free photo into the target. */
export function darkeningTarget(noShadow: tf.Tensor, shadow: tf.Tensor): tf.Tensor {
  // (ns - s) / max(ns, eps), not 1 - s / max(ns, eps): identical near-black pixels must give 0, not a fake shadow.
  return tf.tidy(() => tf.clipByValue(tf.div(tf.sub(noShadow, shadow), tf.maximum(noShadow, 0.02)), 0, 1))
}

export function composite(noShadow: tf.Tensor, darkening: tf.Tensor): tf.Tensor {
  return tf.mul(noShadow, tf.sub(1, darkening))
}

/** Per-pixel weights [B,S,S,1]: balanced between the (dilated) object-shadow region and the rest; 0 on the object. */
export function shadowBalanceWeights(objectShadow: tf.Tensor4D, object: tf.Tensor4D, noShadow: tf.Tensor4D, cap = 30): tf.Tensor4D {
  return tf.tidy(() => {
    const near = tf.maxPool(objectShadow, 5, 1, 'same') as tf.Tensor4D
    const nearCount = tf.sum(near)
    const total = near.size
    // ratio of the rest to the shadow region, clamped so an empty/huge shadow does not blow up
    const ratio = tf.clipByValue(tf.div(tf.sub(total, nearCount), tf.maximum(nearCount, 1)), 1, Math.max(1, cap))
    const w = tf.add(1, tf.mul(near, tf.sub(ratio, 1)))
    // Very dark shadow-free pixels carry no information about the darkening ratio.
    const lum = tf.mean(noShadow, -1, true)
    const reliable = tf.clipByValue(tf.mul(lum, 25), 0.2, 1)
    return tf.mul(tf.mul(w, tf.sub(1, object)), reliable) as tf.Tensor4D
  })
}

function weightedMean(x: tf.Tensor, w: tf.Tensor): tf.Scalar {
  // x [B,S,S,C], w [B,S,S,1]
  const channels = x.shape[x.shape.length - 1] as number
  return tf.div(tf.sum(tf.mul(x, w)), tf.mul(tf.maximum(tf.sum(w), 1e-6), channels)) as tf.Scalar
}

/**
 * Class-balanced binary cross-entropy on sigmoid outputs, per channel. `known` [B,1,1,C] (optional)
 * leaves out the channels of samples whose mask is unknown: they neither count nor pull the output.
 */
export function balancedBce(pred: tf.Tensor4D, target: tf.Tensor4D, known?: tf.Tensor4D, positiveCap = 10): tf.Scalar {
  return tf.tidy(() => {
    const eps = 1e-6
    const p = tf.clipByValue(pred, eps, 1 - eps)
    const pos = tf.sum(target, [0, 1, 2])
    const total = target.size / (target.shape[3] as number)
    const posWeight = tf.clipByValue(tf.div(tf.sub(total, pos), tf.maximum(pos, 1)), 1, Math.max(1, positiveCap))
    const loss = tf.neg(tf.add(tf.mul(tf.mul(target, tf.log(p)), posWeight), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, p)))))
    if (!known) return tf.mean(loss) as tf.Scalar
    const pixels = (target.shape[1] as number) * (target.shape[2] as number)
    return tf.div(tf.sum(tf.mul(loss, known)), tf.maximum(tf.mul(tf.sum(known), pixels), 1)) as tf.Scalar
  })
}

export function gradientL1(a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar {
  const s = a.shape[1] as number
  const dx = (t: tf.Tensor4D) => tf.sub(tf.slice(t, [0, 0, 1, 0], [-1, -1, s - 1, -1]), tf.slice(t, [0, 0, 0, 0], [-1, -1, s - 1, -1]))
  const dy = (t: tf.Tensor4D) => tf.sub(tf.slice(t, [0, 1, 0, 0], [-1, s - 1, -1, -1]), tf.slice(t, [0, 0, 0, 0], [-1, s - 1, -1, -1]))
  return tf.add(tf.mean(tf.abs(tf.sub(dx(a), dx(b)))), tf.mean(tf.abs(tf.sub(dy(a), dy(b))))) as tf.Scalar
}

export interface GeneratorLossParts {
  total: tf.Scalar
  darkening: tf.Scalar
  image: tf.Scalar
  attention: tf.Scalar
  gradient: tf.Scalar
  adversarial: tf.Scalar
  composite: tf.Tensor4D
}

/**
 * The generator loss. `discriminate` is the discriminator applied to a judged image (null: no GAN term).
 */
export function generatorLoss(
  outputs: { attention: tf.Tensor4D; darkening: tf.Tensor4D },
  batch: BatchTensors,
  weights: LossWeights,
  discriminate: ((image: tf.Tensor4D) => tf.Tensor) | null,
): GeneratorLossParts {
  const target = darkeningTarget(batch.noShadow, batch.shadow)
  const w = shadowBalanceWeights(batch.objectShadow, batch.object, batch.noShadow, weights.shadowBalanceCap ?? 30)
  const judged = judgedDarkening(outputs.darkening, batch)
  const darkening = weightedMean(tf.abs(tf.sub(judged, target)), w)
  // Soft-target cross-entropy on the same weights: its gradient at the logits is (d - d*), so the
  // sigmoid, which starts saturated near 0 (conservative init), does not stall learning as L1 alone does.
  const eps = 1e-6
  const dc = tf.clipByValue(judged, eps, 1 - eps)
  const darkeningBce = weightedMean(tf.neg(tf.add(tf.mul(target, tf.log(dc)), tf.mul(tf.sub(1, target), tf.log(tf.sub(1, dc))))), w)
  const comp = composite(batch.noShadow, judged) as tf.Tensor4D
  const image = tf.mean(tf.squaredDifference(comp, batch.shadow)) as tf.Scalar
  const attention = balancedBce(outputs.attention, batch.attention, batch.attentionWeight, weights.attentionPositiveCap)
  const gradient = gradientL1(comp, batch.shadow)
  let adversarial = tf.scalar(0)
  if (discriminate && weights.adversarial > 0) {
    const logits = discriminate(comp)
    adversarial = tf.losses.sigmoidCrossEntropy(tf.onesLike(logits), logits) as tf.Scalar
  }
  const total = tf.addN([
    tf.mul(tf.add(darkening, darkeningBce), weights.darkening),
    tf.mul(image, weights.image),
    tf.mul(attention, weights.attention),
    tf.mul(gradient, weights.gradient),
    tf.mul(adversarial, weights.adversarial),
  ]) as tf.Scalar
  return { total, darkening, image, attention, gradient, adversarial, composite: comp }
}

/**
 * Sharpness of the direction output's soft label: the target over the bins is softmax(kappa *
 * cos(bin - true angle)), a von Mises of about 18 degrees standard deviation, so neighbouring bins
 * share the credit and a bin's centre need not hit the true angle.
 */
export const DIRECTION_LABEL_KAPPA = 10

/**
 * The attention block's losses on the unturned crops: the same balanced cross-entropy as in the
 * cast frame, and for the direction output the KL divergence from the soft label around the true
 * direction to the posterior (softmax of the cells' mean logits), divided by the divergence of a
 * uniform posterior: 1 = no idea, 0 = exact. Minimising it makes the posterior the distribution of
 * the direction given the crop: spread where the crop shows nothing, two-peaked where it shows
 * only left-or-right (a regression to the unit vector answered zero there, and never learned).
 */
export function viewLoss(outputs: { attention: tf.Tensor4D; direction: tf.Tensor4D }, view: ViewTensors, attentionWeight?: tf.Tensor4D, attentionPositiveCap?: number): { attention: tf.Scalar; direction: tf.Scalar } {
  const attention = balancedBce(outputs.attention, view.attention, attentionWeight, attentionPositiveCap)
  return { attention, direction: directionLoss(outputs.direction, view.direction, view.directionKnown) }
}

/**
 * The direction output's loss (viewLoss): the KL divergence from the soft label around each known
 * direction (`direction`: [B,2] unit vectors, `known`: [B,1] 1 where known) to the belief (softmax
 * of the cells' mean logits, `logits` [B,h,w,K]), over that of a uniform belief.
 */
export function directionLoss(logits: tf.Tensor4D, direction: tf.Tensor2D, known: tf.Tensor2D): tf.Scalar {
  const bins = logits.shape[3]
  const angles = Array.from({ length: bins }, (_, k) => (2 * Math.PI * k) / bins)
  const [cos, sin] = tf.split(direction, 2, 1) // [B,1] each
  const similarity = tf.add(tf.mul(cos, tf.tensor2d(angles.map(Math.cos), [1, bins])), tf.mul(sin, tf.tensor2d(angles.map(Math.sin), [1, bins]))) // cos(bin - angle)
  const label = tf.softmax(tf.mul(similarity, DIRECTION_LABEL_KAPPA)) // [B,K]
  const logLabel = tf.log(tf.maximum(label, 1e-12))
  const logPosterior = tf.logSoftmax(tf.mean(logits, [1, 2])) // [B,K]
  const kl = tf.sum(tf.mul(label, tf.sub(logLabel, logPosterior)), -1, true) // [B,1]
  const klUniform = tf.sum(tf.mul(label, tf.add(logLabel, Math.log(bins))), -1, true)
  // A batch with no known direction gives 0 (0 / 1e-6), not 0 / 0.
  return tf.div(tf.sum(tf.mul(kl, known)), tf.maximum(tf.sum(tf.mul(klUniform, known)), 1e-6)) as tf.Scalar
}

export function discriminatorInput(batch: BatchTensors, judged: tf.Tensor4D): tf.Tensor4D {
  return tf.concat([batch.noShadow, batch.object, judged], -1) as tf.Tensor4D
}

export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.add(
    tf.losses.sigmoidCrossEntropy(tf.onesLike(realLogits), realLogits),
    tf.losses.sigmoidCrossEntropy(tf.zerosLike(fakeLogits), fakeLogits),
  ) as tf.Scalar
}
