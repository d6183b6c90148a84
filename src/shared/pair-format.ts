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

type Vec3 = [number, number, number]

/**
 * meta.json of a synthetic pair (written by `umbra synth`; user pairs may have none). World frame:
 * y up, ground at y = 0; camera frame: x right, y up, z forward; image frame: x right, y down.
 */
export interface SynthPairMeta {
  /** Generator version, e.g. 'umbra-synth-3': pairs from different versions differ in look. */
  generator: string
  seed: number
  /** Redraws needed before the scene was accepted (object in frame, shadow visible). */
  attempt: number
  size: number
  light: {
    setting: 'sunny' | 'hazy' | 'golden' | 'indoor' | string
    azimuthDeg: number
    elevationDeg: number
    /** Angular radius of the sun disc: 0.27 is the real sun, larger is softer. */
    angularRadiusDeg: number
    /** Unit vector towards the sun, world frame. */
    direction: Vec3
    /** The same in the camera frame. */
    directionCamera: Vec3
    /** Unit image-space direction in which the object's shadow extends from its base. */
    shadowDirectionImage: [number, number]
    sunRgb: Vec3
    skyRgb: Vec3
  }
  camera: { position: Vec3; pitchDeg: number; rollDeg: number; fovDeg: number; heightOverObject: number }
  object: { kind: string; height: number; position: Vec3; yaw: number }
  occluders: { kind: string; height: number; position: Vec3; yaw: number }[]
  environment: { wall: boolean; step: boolean; backdrop: boolean }
  /** Texture files (relative to --textures) and procedural patterns used. */
  textures: string[]
  /** Camera pipeline: exposure key, white-balance gains, tone curve, vignette, blur and noise (8-bit levels). */
  post: PostProcess
  /** Pixel counts of the four masks. */
  areas: { object: number; objectShadow: number; occluders: number; occluderShadows: number }
}

/** The synthetic camera pipeline (src/synth/render.ts applies it; pair metadata records it). */
export interface PostProcess {
  /** Target mean of the frame's linear luminance before the tone curve. */
  key: number
  whiteBalance: Vec3
  /** Highlight roll-off: the tone curve is linear up to 1 - 1/white, then eases into white (umbra-synth-3 and older: Reinhard white point). */
  white: number
  saturation: number
  contrast: number
  vignette: number
  blurSigma: number
  /** Noise standard deviations, 8-bit levels. */
  noiseSigma: number
  chromaNoise: number
}
