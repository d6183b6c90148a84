/**
 * The pair format: one folder per sample. Synth writes it; train, eval and fine-tune read it.
 * Masks are 8-bit single channel, 0 or 255.
 */
export const PAIR_FILES = {
  noShadow: 'noshadow.png',
  shadow: 'shadow.png',
  object: 'object.png',
  objectShadow: 'object-shadow.png',
  occluders: 'occluders.png',
  occluderShadows: 'occluder-shadows.png',
  meta: 'meta.json',
} as const

export type PairFileKey = keyof typeof PAIR_FILES

/** Files every complete sample has (meta.json is optional for user pairs). */
export const REQUIRED_PAIR_IMAGES: PairFileKey[] = ['noShadow', 'shadow', 'object', 'objectShadow', 'occluders', 'occluderShadows']
