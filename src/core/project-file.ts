import { z } from 'zod'
import { AssetMeta, compositionProblems, layerAssetIds, PROJECT_FORMAT_VERSION, ProjectDocument, type Composition } from '../shared/project'
import { UserError } from './errors'
import { sha256Hex } from './assets'

/**
 * The `.umbra` project file: one binary container holding a JSON document and the images it uses,
 * so a project still opens when the original files move or vanish.
 *
 *   offset 0   8 bytes  magic  0x89 'U' 'M' 'B' 'R' 'A' '\r' '\n'  (like PNG's: catches text-mode damage)
 *   offset 8   u32 LE   container version (CONTAINER_VERSION)
 *   offset 12  u32 LE   manifest length N
 *   offset 16  N bytes  manifest, UTF-8 JSON: { document, entries: [{ assetId, offset, length, sha256 }] }
 *   offset 16+N        the images' original bytes, back to back; entry offsets count from here
 *
 * The document (src/shared/project.ts) carries its own `version`. Reading goes through
 * `restoreDocument`: a file from a NEWER version is refused with a clear message; an OLDER one is
 * upgraded step by step through MIGRATIONS, then missing optional fields get their defaults
 * (the zod schema), then references are checked (every layer's image present, ids unique).
 */
export const PROJECT_MAGIC = Uint8Array.from([0x89, 0x55, 0x4d, 0x42, 0x52, 0x41, 0x0d, 0x0a])
export const CONTAINER_VERSION = 1
export const PROJECT_EXTENSION = '.umbra'
/** A manifest larger than this is not ours. */
const MAX_MANIFEST = 16 * 1024 * 1024

const Entry = z.object({
  assetId: z.string(),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
  sha256: z.string(),
})
const Manifest = z.object({ document: z.unknown(), entries: z.array(Entry) })

/** Upgrades a raw document from version `from` to `from + 1`. */
export type Migration = (doc: Record<string, unknown>) => Record<string, unknown>

/**
 * MIGRATIONS[v] turns a version-v document into version v+1. When the format changes, bump
 * PROJECT_FORMAT_VERSION and add the step here (never edit an old step).
 */
export const MIGRATIONS: Record<number, Migration> = {
  // 1 -> 2: shadow layers gained `source` (how they were generated) and `edits`. A format-1 shadow
  // layer is a plain image: it keeps its pixels, gets neutral edits, and has no source (so it is
  // never "stale" and cannot be steered or regenerated until the user generates it again).
  1: (doc) => {
    const composition = (doc.composition ?? {}) as { layers?: unknown }
    const layers = Array.isArray(composition.layers) ? composition.layers : []
    return {
      ...doc,
      composition: {
        ...composition,
        layers: layers.map((l) => {
          if (!l || typeof l !== 'object' || (l as { kind?: unknown }).kind !== 'shadow') return l
          const { source: _ignored, ...rest } = l as Record<string, unknown>
          return { ...rest, edits: {} }
        }),
      },
    }
  },
}

export interface RestoredProject {
  document: ProjectDocument
  /** What the restore step did, for the user ("upgraded from format 1 to 2"). */
  notes: string[]
}

export function restoreDocument(
  raw: unknown,
  opts: { current?: number; migrations?: Record<number, Migration>; parse?: (doc: unknown) => ProjectDocument } = {},
): RestoredProject {
  const current = opts.current ?? PROJECT_FORMAT_VERSION
  const migrations = opts.migrations ?? MIGRATIONS
  const parse = opts.parse ?? ((d: unknown) => ProjectDocument.parse(d))
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || (raw as { format?: unknown }).format !== 'umbra-project') {
    throw new UserError('NOT_A_PROJECT', 'this file is not an Umbra project')
  }
  let doc = raw as Record<string, unknown>
  const version = doc.version
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    throw new UserError('CORRUPT_PROJECT', 'the project file has no valid format version')
  }
  if (version > current) {
    const by = typeof doc.app === 'string' ? ` (Umbra ${doc.app})` : ''
    throw new UserError(
      'NEWER_VERSION',
      `this project was saved by a newer version of Umbra${by}: project format ${version}, but this version reads up to format ${current}. Update Umbra to open it.`,
    )
  }
  const notes: string[] = []
  for (let v = version; v < current; v++) {
    const step = migrations[v]
    if (!step) throw new UserError('CORRUPT_PROJECT', `no upgrade from project format ${v}`)
    doc = { ...step(doc), version: v + 1 }
  }
  if (version < current) notes.push(`upgraded the project from format ${version} to ${current}`)
  let document: ProjectDocument
  try {
    document = parse(doc)
  } catch (err) {
    const detail = err instanceof z.ZodError ? err.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message
    throw new UserError('CORRUPT_PROJECT', `the project file is damaged (${detail})`)
  }
  return { document, notes }
}

export interface ProjectContents {
  document: ProjectDocument
  /** Original bytes by asset id. */
  images: Map<string, Uint8Array>
  notes: string[]
}

export function encodeProject(composition: Composition, bytesOf: (id: string) => Uint8Array, appVersion: string): Uint8Array {
  const problems = compositionProblems(composition)
  if (problems.length) throw new UserError('BAD_COMPOSITION', `cannot save: ${problems.join('; ')}`)
  const used = new Set(composition.layers.flatMap(layerAssetIds))
  const assets = composition.assets.filter((a) => used.has(a.id))
  const document: ProjectDocument = {
    format: 'umbra-project',
    version: PROJECT_FORMAT_VERSION,
    app: appVersion,
    savedAt: new Date().toISOString(),
    composition: { ...composition, assets },
  }
  const blobs: Uint8Array[] = []
  const entries: z.infer<typeof Entry>[] = []
  let offset = 0
  for (const a of assets) {
    const bytes = bytesOf(a.id)
    entries.push({ assetId: a.id, offset, length: bytes.length, sha256: sha256Hex(bytes) })
    blobs.push(bytes)
    offset += bytes.length
  }
  const manifest = new TextEncoder().encode(JSON.stringify({ document, entries }))
  const out = new Uint8Array(16 + manifest.length + offset)
  out.set(PROJECT_MAGIC, 0)
  const view = new DataView(out.buffer)
  view.setUint32(8, CONTAINER_VERSION, true)
  view.setUint32(12, manifest.length, true)
  out.set(manifest, 16)
  let at = 16 + manifest.length
  for (const b of blobs) {
    out.set(b, at)
    at += b.length
  }
  return out
}

export function decodeProject(file: Uint8Array, name = 'the project'): ProjectContents {
  if (file.length === 0) throw new UserError('EMPTY_FILE', `${name} is empty (0 bytes)`)
  if (file.length < 16 || PROJECT_MAGIC.some((b, i) => file[i] !== b)) {
    throw new UserError('NOT_A_PROJECT', `${name} is not an Umbra project (.umbra) file`)
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const container = view.getUint32(8, true)
  if (container > CONTAINER_VERSION) {
    throw new UserError('NEWER_VERSION', `${name} was saved by a newer version of Umbra (container version ${container}). Update Umbra to open it.`)
  }
  const manifestLen = view.getUint32(12, true)
  if (manifestLen > MAX_MANIFEST || 16 + manifestLen > file.length) {
    throw new UserError('CORRUPT_PROJECT', `${name} is damaged or truncated (its table of contents is cut off)`)
  }
  let manifest: z.infer<typeof Manifest>
  try {
    manifest = Manifest.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(16, 16 + manifestLen))))
  } catch {
    throw new UserError('CORRUPT_PROJECT', `${name} is damaged (its table of contents cannot be read)`)
  }
  const { document, notes } = restoreDocument(manifest.document)
  const dataStart = 16 + manifestLen
  const images = new Map<string, Uint8Array>()
  for (const e of manifest.entries) {
    const start = dataStart + e.offset
    if (start + e.length > file.length) continue // truncated: reported below as a missing image
    const bytes = file.subarray(start, start + e.length)
    if (sha256Hex(bytes) !== e.sha256) continue
    images.set(e.assetId, bytes)
  }
  const byId = new Map(document.composition.assets.map((a) => [a.id, a]))
  const missing = [...new Set(document.composition.layers.flatMap(layerAssetIds))].filter((id) => !images.has(id))
  if (missing.length) {
    const names = missing.map((id) => `'${byId.get(id)?.name ?? id}'`).join(', ')
    throw new UserError('MISSING_IMAGE', `${name} cannot be opened: the image${missing.length > 1 ? 's' : ''} ${names} ${missing.length > 1 ? 'are' : 'is'} missing or damaged inside the file`)
  }
  const problems = compositionProblems(document.composition)
  if (problems.length) throw new UserError('CORRUPT_PROJECT', `${name} is damaged: ${problems.join('; ')}`)
  for (const a of document.composition.assets) AssetMeta.parse(a)
  return { document, images, notes }
}
