/**
 * Finding the inputs of a batch and deciding what each becomes (the plan). Nothing is decoded
 * here (that is the workers' job, where a bad file fails alone); names decide:
 *
 * - `NAME.mask.png` (or .webp/.jpg) is the mask of the photo `NAME.jpg|jpeg|png|webp` beside it:
 *   that photo is a COMPOSITE (it already contains the object).
 * - with `--background`, a PNG/WebP without a mask is a CUT-OUT to place on the background.
 * - an image with neither a mask nor cut-out mode fails with "missing mask".
 * - system files (.DS_Store, Thumbs.db, desktop.ini, ._*, other dot files) and files that are not
 *   images by their extension are skipped and reported; subfolders are walked with --recursive
 *   (and reported otherwise); the output folder, when it lies inside the input folder, is never walked.
 */
import { promises as fs } from 'node:fs'
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path'
import { UserError } from '../../core/errors'
import type { InputKind, OutputFormat, PlannedItem, SkippedInput } from './types'

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp']
const MASK_SUFFIX = /\.mask\.(png|webp|jpe?g)$/i
const SYSTEM_NAMES = new Set(['.ds_store', 'thumbs.db', 'desktop.ini', 'ehthumbs.db', 'icon\r', '.localized'])
/** Our own files in the output folder (state, reports); never inputs. */
export const STATE_FILE = '.umbra-batch-state.json'

export interface Plan {
  items: PlannedItem[]
  /** Inputs reported without processing (skipped) or failing before any work (failed). */
  other: SkippedInput[]
}

export interface PlanOptions {
  inDir: string
  outDir: string
  background?: string
  recursive?: boolean
  format?: 'png' | 'jpeg'
  layers?: boolean
  projects?: boolean
}

export function isSystemFile(name: string): boolean {
  const lower = name.toLowerCase()
  return SYSTEM_NAMES.has(lower) || lower.startsWith('._') || lower.startsWith('.') || lower.startsWith('~$')
}

export function formatOfExtension(ext: string): OutputFormat | null {
  const e = ext.toLowerCase()
  if (e === '.jpg' || e === '.jpeg') return 'jpeg'
  if (e === '.png') return 'png'
  if (e === '.webp') return 'webp'
  return null
}

function extensionFor(format: OutputFormat, inputExt: string): string {
  if (formatOfExtension(inputExt) === format) return inputExt
  return format === 'jpeg' ? '.jpg' : `.${format}`
}

function toRel(root: string, path: string): string {
  return relative(root, path).split(sep).join('/')
}

function isInside(child: string, parent: string): boolean {
  const r = relative(parent, child)
  return r === '' || (!r.startsWith('..') && !r.startsWith(sep) && r !== '..' && !/^[A-Za-z]:/.test(r))
}

interface Found {
  files: string[]
  other: SkippedInput[]
}

async function walk(root: string, dir: string, recursive: boolean, outDir: string, found: Found): Promise<void> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = await fs.readdir(dir, { withFileTypes: true })
  } catch (err) {
    if (dir === root) throw err
    found.other.push({ rel: toRel(root, dir) + '/', input: dir, kind: 'folder', status: 'failed', reason: `cannot read this folder: ${(err as Error).message}` })
    return
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const e of entries) {
    const path = join(dir, e.name)
    const rel = toRel(root, path)
    if (e.isDirectory()) {
      if (resolve(path) === outDir) continue // our own output folder
      if (e.name.startsWith('.')) {
        found.other.push({ rel: rel + '/', input: path, kind: 'system', status: 'skipped', reason: 'hidden folder' })
      } else if (recursive) {
        await walk(root, path, recursive, outDir, found)
      } else {
        found.other.push({ rel: rel + '/', input: path, kind: 'folder', status: 'skipped', reason: 'subfolder (use --recursive to include it)' })
      }
      continue
    }
    if (e.isSymbolicLink()) {
      // A link to a file is followed; a link to a folder is not (no loops, no escaping the folder).
      const st = await fs.stat(path).catch(() => null)
      if (!st || !st.isFile()) {
        found.other.push({ rel, input: path, kind: 'other', status: 'skipped', reason: st ? 'link to a folder (not followed)' : 'broken link' })
        continue
      }
    } else if (!e.isFile()) {
      found.other.push({ rel, input: path, kind: 'other', status: 'skipped', reason: 'not a regular file' })
      continue
    }
    found.files.push(path)
  }
}

/** Finds the inputs and plans the outputs. Throws UserError for a bad folder pair (nothing to report yet). */
export async function planBatch(opts: PlanOptions): Promise<Plan> {
  const inDir = resolve(opts.inDir)
  const outDir = resolve(opts.outDir)
  const background = opts.background ? resolve(opts.background) : undefined
  const st = await fs.stat(inDir).catch(() => null)
  if (!st) throw new UserError('NOT_FOUND', `the input folder ${opts.inDir} does not exist`)
  if (!st.isDirectory()) throw new UserError('NOT_A_FOLDER', `${opts.inDir} is not a folder`)
  if (outDir === inDir) throw new UserError('OUT_IS_IN', 'the output folder must differ from the input folder (inputs are never overwritten)')
  if (isInside(inDir, outDir) && opts.recursive) {
    throw new UserError('OUT_IS_IN', 'with --recursive the input folder must not lie inside the output folder (results would mix with inputs)')
  }

  const found: Found = { files: [], other: [] }
  await walk(inDir, inDir, !!opts.recursive, outDir, found)

  const other = found.other
  const byPath = new Set(found.files.map((f) => f.toLowerCase()))
  const masks = new Map<string, string>() // lower-case "dir/NAME" -> mask path
  const photos: string[] = []
  for (const file of found.files) {
    const name = basename(file)
    const rel = toRel(inDir, file)
    if (isSystemFile(name)) {
      other.push({ rel, input: file, kind: 'system', status: 'skipped', reason: 'system file' })
    } else if (background && resolve(file) === background) {
      other.push({ rel, input: file, kind: 'background', status: 'skipped', reason: 'the background photo' })
    } else if (MASK_SUFFIX.test(name)) {
      masks.set(join(dirname(file), name.replace(MASK_SUFFIX, '')).toLowerCase(), file)
    } else if (IMAGE_EXTENSIONS.includes(extname(name).toLowerCase())) {
      photos.push(file)
    } else {
      const ext = extname(name)
      other.push({ rel, input: file, kind: 'other', status: 'skipped', reason: ext ? `not an image (${ext} file)` : 'not an image (no extension)' })
    }
  }

  const bgFormat = background ? formatOfExtension(extname(background)) : null
  if (background && !bgFormat) throw new UserError('UNSUPPORTED_FORMAT', `the background ${opts.background} must be a JPEG, PNG or WebP file`)
  const usedMasks = new Set<string>()
  const items: PlannedItem[] = []
  const claimed = new Map<string, string>() // lower-case output path -> input rel
  for (const file of photos) {
    const rel = toRel(inDir, file)
    const ext = extname(file)
    const stem = file.slice(0, file.length - ext.length)
    const mask = masks.get(stem.toLowerCase())
    let kind: 'composite' | 'cutout'
    if (mask) {
      kind = 'composite'
      usedMasks.add(mask)
    } else if (background && (ext.toLowerCase() === '.png' || ext.toLowerCase() === '.webp')) {
      kind = 'cutout'
    } else {
      const hint = background ? ' (JPEG files cannot be cut-outs: they have no alpha)' : ext.toLowerCase() === '.jpg' || ext.toLowerCase() === '.jpeg' ? '' : ' (or give --background to place cut-outs)'
      other.push({ rel, input: file, kind: 'composite', status: 'failed', reason: `missing mask: expected ${basename(stem)}.mask.png beside it${hint}` })
      continue
    }
    const format: OutputFormat = opts.format ?? (kind === 'composite' ? (formatOfExtension(ext) as OutputFormat) : (bgFormat as OutputFormat))
    const outBase = join(outDir, relative(inDir, stem))
    const outputs: PlannedItem['outputs'] = { image: outBase + extensionFor(format, kind === 'composite' ? ext : extname(background as string)) }
    if (opts.layers) outputs.layer = `${outBase}.shadow.png`
    if (opts.projects) outputs.project = `${outBase}.umbra`
    const clash = Object.values(outputs).find((p) => claimed.has(p.toLowerCase()) || byPath.has(p.toLowerCase()))
    if (clash) {
      const owner = claimed.get(clash.toLowerCase())
      other.push({
        rel,
        input: file,
        kind,
        status: 'failed',
        reason: owner ? `its output ${toRel(outDir, clash)} is also the output of ${owner} (rename one of them)` : `its output ${clash} would overwrite an input`,
      })
      continue
    }
    for (const p of Object.values(outputs)) claimed.set(p.toLowerCase(), rel)
    items.push({ index: 0, rel, input: file, kind, mask, outputs, format })
  }
  for (const mask of masks.values()) {
    if (!usedMasks.has(mask)) {
      other.push({ rel: toRel(inDir, mask), input: mask, kind: 'mask', status: 'skipped', reason: 'mask without a photo of the same name' })
    }
  }
  items.forEach((item, i) => (item.index = i))
  other.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
  return { items, other }
}

export type { InputKind }
