/**
 * A tiny seeded PRNG (mulberry32) whose whole state is one 32-bit number, so a training run can
 * store it in its checkpoint and resume with the same sample order and augmentations.
 */
export class TrainRng {
  constructor(public state: number) {
    this.state = state >>> 0
  }

  uint(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  next(): number {
    return this.uint() / 4294967296
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next()
  }

  int(lo: number, hiInclusive: number): number {
    return lo + Math.floor(this.next() * (hiInclusive - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  /** 0 .. n-1 in a random order (Fisher-Yates), e.g. an epoch's order of samples. */
  permutation(n: number): number[] {
    const order = Array.from({ length: n }, (_, i) => i)
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i)
      ;[order[i], order[j]] = [order[j], order[i]]
    }
    return order
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }
}

/** A stable 32-bit hash of a string (FNV-1a), e.g. to split samples into train/validation by id. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
