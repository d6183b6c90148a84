import { z } from 'zod'

/**
 * The composition as data: what the editor edits, what a `.umbra` project stores and what export
 * renders. All coordinates are in ORIGINAL photo pixels (never screen pixels), so nothing here
 * depends on zoom or on the size of the previews the renderer shows.
 *
 * Layers form a discriminated union on `kind`. Today: `photo` (the background) and `object`
 * (a cut-out with alpha) and `shadow` (a generated shadow linked to an object, with its edits).
 *
 * Format history: 1 = photo and object layers (shadow layers as plain images); 2 = shadow layers
 * carry `source` and `edits` (and their extra assets: erase mask, attention maps).
 */

/** Current version of the project document. Bump it and add a migration in src/core/project-file.ts. */
export const PROJECT_FORMAT_VERSION = 2

export const AssetId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'asset ids are 1-64 letters, digits, _ or -')
export type AssetId = z.infer<typeof AssetId>

export const LayerId = z.string().min(1).max(64)

/**
 * Where a layer's image sits on the photo: its CENTRE at (x, y) in photo pixels, scaled from its
 * original pixel size, rotated clockwise by `angle` degrees about that centre, flips applied first.
 * (This is Fabric's model with origin 'center': translate * rotate * scale * flip.)
 */
export const Transform = z.object({
  x: z.number().finite(),
  y: z.number().finite(),
  scaleX: z.number().finite().positive().max(1000),
  scaleY: z.number().finite().positive().max(1000),
  angle: z.number().finite().default(0),
  flipX: z.boolean().default(false),
  flipY: z.boolean().default(false),
})
export type Transform = z.infer<typeof Transform>

const layerBase = {
  id: LayerId,
  name: z.string().max(200).default('Layer'),
  visible: z.boolean().default(true),
  locked: z.boolean().default(false),
  opacity: z.number().min(0).max(1).default(1),
}

/** The background photo. It defines the canvas: its original size is the export size. */
export const PhotoLayer = z.object({
  ...layerBase,
  kind: z.literal('photo'),
  assetId: AssetId,
})
export type PhotoLayer = z.infer<typeof PhotoLayer>

/** A cut-out object (PNG/WebP with alpha) placed on the photo. */
export const ObjectLayer = z.object({
  ...layerBase,
  kind: z.literal('object'),
  assetId: AssetId,
  transform: Transform,
})
export type ObjectLayer = z.infer<typeof ObjectLayer>

/** A point in photo pixels. */
export const Point = z.object({ x: z.number().finite(), y: z.number().finite() })
export type Point = z.infer<typeof Point>

/**
 * The user's edits of a shadow layer, applied on top of the generated pixels (the generated image
 * itself is never changed, so "reset to generated" just drops the edits). Every field is optional
 * with a neutral default (see `shadowEdits` in src/shared/shadow.ts), so older files and writers
 * that know nothing about edits (batch) stay valid.
 */
export const ShadowEdits = z.object({
  /** Multiplies the shadow's strength (alpha): 1 = as generated, 0 = none, up to 3. */
  density: z.number().min(0).max(3).optional(),
  /** Extra blur, in photo pixels (Gaussian sigma). */
  softness: z.number().min(0).max(500).optional(),
  /** The colour of the shade (#rrggbb): black = as generated; lighter channels darken less (src/shared/shadow.ts). */
  tint: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
  /** Horizontal skew in degrees (Fabric's skewX, applied before scale and rotation). */
  skewX: z.number().min(-80).max(80).optional(),
  /** Erase/restore brush: a greyscale mask the size of the shadow image (255 = keep, 0 = erased). */
  maskAssetId: AssetId.nullable().optional(),
})
export type ShadowEdits = z.infer<typeof ShadowEdits>

/**
 * Where a generated shadow's direction came from (models that cast in a given direction), so the
 * editor can say how far to trust it and when to steer.
 */
export const LightOrigin = z.object({
  /**
   * 'user': the light the user steered; 'scene': read from the shadows already in the photo (the
   * attention maps); 'model': the model's own direction estimate, sure enough; 'spread': not
   * known, so the shadow is the mean of the shadows cast in the directions the model believes in
   * (fainter and wider than one shadow); 'sun': away from the sun (or its glow) in the photo;
   * 'default': not known, light assumed from the upper left.
   */
  kind: z.enum(['user', 'scene', 'model', 'spread', 'sun', 'default']),
  /** The model's belief in its most likely direction, 0-1 (models with a direction output). */
  confidence: z.number().min(0).max(1).optional(),
  /** With 'spread': the cast directions mixed (degrees, 0 = right, 90 = down) and their weights. */
  directions: z.array(z.object({ angle: z.number().finite(), weight: z.number().min(0).max(1) })).max(64).optional(),
  /**
   * The side the object's own shading says the light comes from, when that moved the model's belief
   * (its shadow then more likely falls the other way; engine/shading-cue.ts).
   */
  litFrom: z.enum(['left', 'right']).optional(),
  /** With 'sun': where the sun or its glow is in the photo (photo pixels). */
  sun: z.object({ x: z.number().finite(), y: z.number().finite() }).optional(),
  /**
   * With 'spread' or 'model': the direction (degrees) the shadows already in the photo point, as
   * the model's attention maps showed them, when that weighed the model's belief.
   */
  sceneAngle: z.number().finite().optional(),
})
export type LightOrigin = z.infer<typeof LightOrigin>

/**
 * Where a generated shadow came from: what the editor needs to notice that the object moved
 * (stale), to steer the light about the object's contact point, to reset the edits and to
 * regenerate with corrected attention maps.
 */
export const ShadowSource = z.object({
  /** The object's transform when the shadow was generated (a different one = stale). */
  objectTransform: Transform,
  /** The layer's transform as generated (reset target; light steering starts from it). */
  generatedTransform: Transform,
  /** Where the object meets the ground (bottom centre of its mask), photo pixels. */
  contact: Point,
  /** Direction of the generated cast shadow from the contact point, degrees (0 = right, 90 = down); null if it has none. */
  castAngle: z.number().finite().nullable(),
  /** Length of the generated cast shadow (contact point to its far end), photo pixels. */
  castLength: z.number().finite().nonnegative(),
  /** The light as the user steered it: the shadow's direction (degrees) and length (photo px); null = as generated. */
  light: z.object({ angle: z.number().finite(), length: z.number().finite().positive() }).nullable().optional(),
  /** Where the generated direction came from; absent for models that choose it themselves, and in older files. */
  lightOrigin: LightOrigin.optional(),
  /** The attention maps (RGB: R occluders, G occluder shadows) over `attentionRect`, as predicted or as corrected. */
  attentionAssetId: AssetId.optional(),
  attentionRect: z.object({ x: z.number(), y: z.number(), width: z.number().positive(), height: z.number().positive() }).optional(),
  /** True when the attention maps were painted by the user (regenerate feeds them to the shadow block). */
  attentionEdited: z.boolean().optional(),
  /** Model, runtime and backend that generated it (shown to the user). */
  model: z.string().max(200).optional(),
  backend: z.string().max(200).optional(),
})
export type ShadowSource = z.infer<typeof ShadowSource>

/**
 * A shadow linked to an object layer: an RGBA "multiply layer" (alpha = strength, colour = the
 * shadow's colour; applying it gives photo * (1 - a + a * colour)) drawn beneath its object.
 * Generated shadows carry `source` and `edits` (format 2); a shadow without them is a plain image.
 */
export const ShadowLayer = z.object({
  ...layerBase,
  kind: z.literal('shadow'),
  /** The object layer this shadow belongs to. */
  objectId: LayerId,
  assetId: AssetId,
  transform: Transform,
  blend: z.enum(['multiply', 'normal']).default('multiply'),
  source: ShadowSource.optional(),
  edits: ShadowEdits.optional(),
})
export type ShadowLayer = z.infer<typeof ShadowLayer>

export const Layer = z.discriminatedUnion('kind', [PhotoLayer, ObjectLayer, ShadowLayer])
export type Layer = z.infer<typeof Layer>
export type LayerKind = Layer['kind']

/** What the document knows about an image it uses (the pixels live in the asset store / project file). */
export const AssetMeta = z.object({
  id: AssetId,
  /** File name the image came from (for display and for the default export name). */
  name: z.string().max(500),
  /** Size after EXIF orientation, in pixels. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  mime: z.enum(['image/jpeg', 'image/png', 'image/webp']),
  hasAlpha: z.boolean(),
  /** sha256 of the stored bytes, hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
})
export type AssetMeta = z.infer<typeof AssetMeta>

/**
 * The document. `layers` go bottom to top; the photo layer, when there is one, is first.
 * `width`/`height` are the photo's original size (the canvas and export size).
 */
export const Composition = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  layers: z.array(Layer).max(1000),
  assets: z.array(AssetMeta).max(1000),
})
export type Composition = z.infer<typeof Composition>

/** The JSON document stored in a .umbra file (see src/core/project-file.ts for the container). */
export const ProjectDocument = z.object({
  format: z.literal('umbra-project'),
  version: z.literal(PROJECT_FORMAT_VERSION),
  /** Version of the app that wrote it, for messages only. */
  app: z.string().max(100).default('unknown'),
  savedAt: z.string().max(100).default(''),
  composition: Composition,
})
export type ProjectDocument = z.infer<typeof ProjectDocument>

/** Every image a layer uses: its own, and for a shadow its erase mask and attention maps. */
export function layerAssetIds(l: Layer): string[] {
  if (l.kind !== 'shadow') return [l.assetId]
  const ids = [l.assetId]
  if (l.edits?.maskAssetId) ids.push(l.edits.maskAssetId)
  if (l.source?.attentionAssetId) ids.push(l.source.attentionAssetId)
  return ids
}

/** Checks references inside a composition; returns a list of problems (empty when consistent). */
export function compositionProblems(c: Composition): string[] {
  const problems: string[] = []
  const assets = new Set(c.assets.map((a) => a.id))
  const ids = new Set<string>()
  const objects = new Set(c.layers.filter((l) => l.kind === 'object').map((l) => l.id))
  c.layers.forEach((l, i) => {
    if (ids.has(l.id)) problems.push(`layer id ${l.id} is used twice`)
    ids.add(l.id)
    for (const id of layerAssetIds(l)) if (!assets.has(id)) problems.push(`layer '${l.name}' uses image ${id}, which is missing`)
    if (l.kind === 'photo' && i !== 0) problems.push('the photo layer must be the bottom layer')
    if (l.kind === 'shadow' && !objects.has(l.objectId)) problems.push(`shadow layer '${l.name}' belongs to a missing object ${l.objectId}`)
  })
  return problems
}

export function emptyComposition(width = 1600, height = 1000): Composition {
  return { width, height, layers: [], assets: [] }
}
