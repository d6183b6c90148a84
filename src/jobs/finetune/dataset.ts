import { makeExample, NO_AUGMENT, toFloat, type AugmentOptions, type PairImages, type TrainExample } from '../../engine/train/data'
import type { TrainDataSource } from '../../engine/train/loop'
import { hashString, TrainRng } from '../../engine/train/rng'
import type { CheckedPair } from './pairs'

/**
 * Splits checked pairs into training and validation, deterministically by id (the same pairs land
 * on the same side after a restart, so a resumed run keeps its validation set). No validation set
 * below 4 pairs: early stopping is then off.
 */
export function splitPairs<T extends { id: string }>(pairs: T[], valFraction: number): { train: T[]; val: T[] } {
  if (pairs.length < 4 || valFraction <= 0) return { train: [...pairs], val: [] }
  const nVal = Math.min(pairs.length - 1, Math.max(1, Math.round(pairs.length * valFraction)))
  const ranked = [...pairs].sort((a, b) => hashString(a.id) - hashString(b.id) || (a.id < b.id ? -1 : 1))
  const valIds = new Set(ranked.slice(0, nVal).map((p) => p.id))
  return { train: pairs.filter((p) => !valIds.has(p.id)), val: pairs.filter((p) => valIds.has(p.id)) }
}

/** A checked pair as the training code's PairImages (floats in [0,1]); unknown occluder masks marked. */
export function toPairImages(p: CheckedPair): PairImages {
  return {
    id: p.id,
    size: p.size,
    noShadow: toFloat(p.noShadow),
    shadow: toFloat(p.shadow),
    object: toFloat(p.object),
    objectShadow: toFloat(p.objectShadow),
    occluders: toFloat(p.occluders),
    occluderShadows: toFloat(p.occluderShadows),
    attentionKnown: [p.given.occluders, p.given.occluderShadows],
  }
}

/**
 * The fine-tuning examples for TRAIN's loop (TrainDataSource): the user's checked pairs, held in
 * memory at the working size (a few hundred kB each), augmented by TRAIN's makeExample.
 */
export class FinetuneDataset implements TrainDataSource {
  constructor(
    private readonly train: CheckedPair[],
    private readonly val: CheckedPair[],
    private readonly modelSize: number,
  ) {}

  get trainCount(): number {
    return this.train.length
  }

  get valEntries(): readonly CheckedPair[] {
    return this.val
  }

  async rescan(): Promise<void> {
    // A fixed, checked list: nothing joins while it trains.
  }

  async batch(n: number, rng: TrainRng, aug: AugmentOptions): Promise<TrainExample[]> {
    const out: TrainExample[] = []
    for (let i = 0; i < n; i++) {
      const pair = this.train[rng.int(0, this.train.length - 1)]
      out.push(makeExample(toPairImages(pair), this.modelSize, aug, new TrainRng(rng.uint())))
    }
    return out
  }

  async valBatch(limit: number, aug: AugmentOptions = NO_AUGMENT): Promise<TrainExample[]> {
    const rng = new TrainRng(1)
    return this.val.slice(0, limit).map((p) => makeExample(toPairImages(p), this.modelSize, aug, rng))
  }
}
