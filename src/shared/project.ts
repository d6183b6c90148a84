import { z } from 'zod'

/**
 * The composition as data: what the editor edits, what a `.umbra` project stores and what export
 * renders. All coordinates are in ORIGINAL photo pixels (never screen pixels), so nothing here
 * depends on zoom or on the size of the previews the renderer shows.
 *
 * Layers form a discriminated union on `kind`. Today: `photo` (the background) and `object`
 * (a cut-out with alpha). `shadow` is reserved for shadow layers linked to an object (issue 5):
 * its schema exists so the format and the compositor already know how to carry and draw it.
 */

/** Current version of the project document. Bump it and add a migration in src/core/project-file.ts. */
export const PROJECT_FORMAT_VERSION = 1

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

/**
 * A shadow linked to an object layer (issue 5 fills this in): an image (RGBA or a matte) drawn
 * beneath its object with a blend mode. Kept minimal here so the format can already carry it.
 */
export const ShadowLayer = z.object({
  ...layerBase,
  kind: z.literal('shadow'),
  /** The object layer this shadow belongs to. */
  objectId: LayerId,
  assetId: AssetId,
  transform: Transform,
  blend: z.enum(['multiply', 'normal']).default('multiply'),
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

/** Checks references inside a composition; returns a list of problems (empty when consistent). */
export function compositionProblems(c: Composition): string[] {
  const problems: string[] = []
  const assets = new Set(c.assets.map((a) => a.id))
  const ids = new Set<string>()
  const objects = new Set(c.layers.filter((l) => l.kind === 'object').map((l) => l.id))
  c.layers.forEach((l, i) => {
    if (ids.has(l.id)) problems.push(`layer id ${l.id} is used twice`)
    ids.add(l.id)
    if (!assets.has(l.assetId)) problems.push(`layer '${l.name}' uses image ${l.assetId}, which is missing`)
    if (l.kind === 'photo' && i !== 0) problems.push('the photo layer must be the bottom layer')
    if (l.kind === 'shadow' && !objects.has(l.objectId)) problems.push(`shadow layer '${l.name}' belongs to a missing object ${l.objectId}`)
  })
  return problems
}

export function emptyComposition(width = 1600, height = 1000): Composition {
  return { width, height, layers: [], assets: [] }
}
