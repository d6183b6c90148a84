import { createHash } from 'node:crypto'
import { basename } from 'node:path'
import type { AssetMeta } from '../shared/project'
import { UserError } from './errors'
import { makePreview, probeImage, type EncodedPreview } from './image'
import { promises as fs } from 'node:fs'

/**
 * The originals, kept on the Node side and addressed by id. The renderer only ever sees
 * downscaled previews; export and project files read the originals from here.
 *
 * Ids are derived from the content (sha256), so importing the same file twice, or reopening a
 * project, gives the same id and stores the bytes once. Originals are kept encoded (a 50 MP JPEG
 * is ~15 MB, not 200 MB of pixels) and decoded when a preview or an export needs them.
 */
export interface StoredAsset {
  meta: AssetMeta
  bytes: Uint8Array
}

const MIME = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' } as const

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export function assetIdFor(sha256: string): string {
  return `img-${sha256.slice(0, 24)}`
}

/** Reads a file the user named, with clear messages for vanished paths, folders and empty files. */
export async function readUserFile(path: string): Promise<Uint8Array> {
  let buf: Buffer
  try {
    buf = await fs.readFile(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UserError('NOT_FOUND', `${path} does not exist (it may have been moved or deleted)`)
    if (code === 'EISDIR') throw new UserError('NOT_A_FILE', `${path} is a folder, not a file`)
    if (code === 'EACCES' || code === 'EPERM') throw new UserError('UNREADABLE', `${path} cannot be read (permission denied)`)
    throw new UserError('UNREADABLE', `cannot read ${path}: ${(err as Error).message}`)
  }
  if (buf.length === 0) throw new UserError('EMPTY_FILE', `${basename(path)} is empty (0 bytes)`)
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

export class AssetStore {
  private readonly items = new Map<string, StoredAsset>()

  /**
   * Checks and stores an image. The whole image is decoded once (for the preview), so a damaged
   * or truncated file is refused here, before it reaches the composition.
   */
  async add(bytes: Uint8Array, name: string, previewMaxSide: number): Promise<{ meta: AssetMeta; preview: EncodedPreview }> {
    if (bytes.length === 0) throw new UserError('EMPTY_FILE', `${name} is empty (0 bytes)`)
    const info = await probeImage(bytes).catch((err) => rename(err, name))
    const preview = await makePreview(bytes, previewMaxSide, info.hasAlpha).catch((err) => rename(err, name))
    const sha = sha256Hex(bytes)
    const id = assetIdFor(sha)
    const existing = this.items.get(id)
    const meta: AssetMeta = existing?.meta ?? {
      id,
      name,
      width: info.width,
      height: info.height,
      mime: MIME[info.format],
      hasAlpha: info.hasAlpha,
      sha256: sha,
    }
    if (!existing) this.items.set(id, { meta, bytes })
    return { meta: { ...meta, name }, preview }
  }

  /** Stores bytes whose metadata is already known (a project being opened); checks the hash. */
  put(meta: AssetMeta, bytes: Uint8Array): void {
    if (sha256Hex(bytes) !== meta.sha256) throw new UserError('CORRUPT_PROJECT', `the image '${meta.name}' inside the project is damaged (checksum mismatch)`)
    if (!this.items.has(meta.id)) this.items.set(meta.id, { meta, bytes })
  }

  get(id: string): StoredAsset {
    const a = this.items.get(id)
    if (!a) throw new UserError('MISSING_IMAGE', `the image ${id} is not loaded any more; reopen the photo or project`)
    return a
  }

  has(id: string): boolean {
    return this.items.has(id)
  }

  async preview(id: string, maxSide: number): Promise<EncodedPreview> {
    const a = this.get(id)
    return makePreview(a.bytes, maxSide, a.meta.hasAlpha)
  }

  release(ids: string[]): number {
    let n = 0
    for (const id of ids) if (this.items.delete(id)) n++
    return n
  }

  get size(): number {
    return this.items.size
  }
}

/** Replaces the generic "the image" in a decoding error by the file's name. */
function rename(err: unknown, name: string): never {
  if (err instanceof UserError) throw new UserError(err.code, err.message.replace(/^the image/, name))
  throw err
}
