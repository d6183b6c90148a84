/**
 * The user's pairs for fine-tuning: finding them (pair-format folders or a flat layout), checking
 * every one, deriving the masks that can be derived, and framing each at the working resolution.
 *
 * Layouts accepted in one folder (both may be mixed):
 *   pair format   <id>/noshadow.png, <id>/shadow.png, <id>/object.png, optional object-shadow.png,
 *                 occluders.png, occluder-shadows.png (pictures may also be .jpg/.jpeg/.webp)
 *   flat          NAME.noshadow.*, NAME.shadow.*, NAME.mask.png, optional NAME.object-shadow.png,
 *                 NAME.occluders.png, NAME.occluder-shadows.png
 *
 * Checks (a pair failing any is rejected with its reasons, never used): files decode; all images
 * the same size; object mask neither empty nor (nearly) full; the two pictures differ; the shadow
 * picture is darker, not brighter; the change lies mostly near the object (otherwise the camera,
 * exposure or scene changed between the shots and the difference is not the object's shadow).
 *
 * Derived: a missing object-shadow mask is the darkened region connected to (or close around) the
 * object. Missing occluder masks are NOT invented: those channels are marked unknown and left out
 * of the attention loss.
 */
import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { PAIR_FILES } from '../../shared/pair-format'
import { decodeMask, decodeRgb, resizeRawImage, type RawImage } from '../../core/image'
import { UserError } from '../../core/errors'
import { dilateMask } from '../../core/mask-morph'
import { contextWindow, maskBoundingBox, type Rect } from '../../engine/pipeline'

export type PairRole = 'noShadow' | 'shadow' | 'object' | 'objectShadow' | 'occluders' | 'occluderShadows'
const OPTIONAL_ROLES: PairRole[] = ['objectShadow', 'occluders', 'occluderShadows']

export interface PairSource {
  id: string
  layout: 'folder' | 'flat'
  files: Partial<Record<PairRole, string>>
}

export interface RejectedPair {
  id: string
  /** The folder or the first file of the pair, for the user to find it. */
  where: string
  reasons: string[]
}

/** A pair that passed every check, framed and resized to the working size (8-bit, like the files). */
export interface CheckedPair {
  id: string
  layout: 'folder' | 'flat'
  size: number
  noShadow: Uint8Array
  shadow: Uint8Array
  object: Uint8Array
  objectShadow: Uint8Array
  occluders: Uint8Array
  occluderShadows: Uint8Array
  /** Which optional masks came from the user's files. */
  given: { objectShadow: boolean; occluders: boolean; occluderShadows: boolean }
  /** What was derived or marked unknown, in words. */
  derived: string[]
  /** Object-shadow pixels at the working size (derived or given). */
  shadowArea: number
  /** Window of the original picture used for training (the inference pipeline's framing). */
  window: Rect
  photoSize: { width: number; height: number }
}

export interface PairReport {
  root: string
  accepted: CheckedPair[]
  rejected: RejectedPair[]
  /** Counts for the summary. */
  derivedObjectShadow: number
  unknownOccluders: number
}

const IMAGE_EXT = /\.(png|jpe?g|webp)$/i
const FOLDER_NAMES: Record<PairRole, string> = {
  noShadow: PAIR_FILES.noShadow,
  shadow: PAIR_FILES.shadow,
  object: PAIR_FILES.object,
  objectShadow: PAIR_FILES.objectShadow,
  occluders: PAIR_FILES.occluders,
  occluderShadows: PAIR_FILES.occluderShadows,
}
const FLAT_SUFFIX: Record<string, PairRole> = {
  noshadow: 'noShadow',
  shadow: 'shadow',
  mask: 'object',
  object: 'object',
  'object-shadow': 'objectShadow',
  occluders: 'occluders',
  'occluder-shadows': 'occluderShadows',
}
const FLAT_RE = /^(.+)\.(noshadow|shadow|mask|object|object-shadow|occluders|occluder-shadows)\.(png|jpe?g|webp)$/i

function stem(name: string): string {
  return name.replace(IMAGE_EXT, '').toLowerCase()
}

/** Finds the pairs in a folder (both layouts); incomplete ones come back as rejected with what is missing. */
export async function findPairs(root: string): Promise<{ sources: PairSource[]; rejected: RejectedPair[] }> {
  let names: string[]
  try {
    const st = await fs.stat(root)
    if (!st.isDirectory()) throw new UserError('NOT_A_FOLDER', `${root} is not a folder of pairs`)
    names = await fs.readdir(root)
  } catch (err) {
    if (err instanceof UserError) throw err
    throw new UserError('NOT_FOUND', `pair folder ${root} does not exist`)
  }
  names.sort()
  const sources: PairSource[] = []
  const rejected: RejectedPair[] = []
  const flat = new Map<string, Partial<Record<PairRole, string>>>()
  const flatDupes = new Map<string, string[]>()
  for (const name of names) {
    if (name.startsWith('.')) continue
    const path = join(root, name)
    const st = await fs.stat(path).catch(() => null)
    if (!st) continue
    if (st.isDirectory()) {
      const inner = (await fs.readdir(path).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && IMAGE_EXT.test(n))
      const files: Partial<Record<PairRole, string>> = {}
      for (const role of Object.keys(FOLDER_NAMES) as PairRole[]) {
        const want = stem(FOLDER_NAMES[role])
        const hit = inner.find((n) => stem(n) === want)
        if (hit) files[role] = join(path, hit)
      }
      if (Object.keys(files).length === 0) continue // not a pair folder (no pair file names in it)
      const missing = (['noShadow', 'shadow', 'object'] as PairRole[]).filter((r) => !files[r])
      if (missing.length > 0) {
        rejected.push({ id: name, where: path, reasons: [`missing ${missing.map((r) => FOLDER_NAMES[r]).join(', ')}`] })
      } else {
        sources.push({ id: name, layout: 'folder', files })
      }
      continue
    }
    const m = FLAT_RE.exec(name)
    if (!m) continue
    const id = m[1]
    const role = FLAT_SUFFIX[m[2].toLowerCase()]
    const entry = flat.get(id) ?? {}
    if (entry[role]) flatDupes.set(id, [...(flatDupes.get(id) ?? []), name])
    else entry[role] = path
    flat.set(id, entry)
  }
  const folderIds = new Set(sources.map((s) => s.id).concat(rejected.map((r) => r.id)))
  for (const [id, files] of flat) {
    const where = files.noShadow ?? files.shadow ?? files.object ?? Object.values(files)[0] ?? join(root, id)
    const reasons: string[] = []
    const missing = (['noShadow', 'shadow', 'object'] as PairRole[]).filter((r) => !files[r])
    if (missing.length) reasons.push(`missing ${missing.map((r) => `${id}.${r === 'noShadow' ? 'noshadow' : r === 'object' ? 'mask' : r}.*`).join(', ')}`)
    if (flatDupes.has(id)) reasons.push(`more than one file for the same role: ${flatDupes.get(id)!.join(', ')}`)
    const flatId = folderIds.has(id) ? `${id} (flat)` : id
    if (reasons.length) rejected.push({ id: flatId, where, reasons })
    else sources.push({ id: flatId, layout: 'flat', files })
  }
  return { sources, rejected }
}

/** Tunables of the checks (exported for tests and the report). */
export const CHECK = {
  /** Longest side of the copy the whole-picture checks run on. */
  analysisSide: 384,
  /** A pixel counts as darkened when some channel drops by this share of its value and by at least minDelta (0-255). */
  minRelativeDarkening: 0.05,
  minDelta: 5,
  /** At least this share of the changed pixels must be near the object. */
  minNearShare: 0.6,
  /** Changed pixels over this share of the picture: the shots are not a pair. */
  maxChangedShare: 0.6,
  /** Object masks over this share of the picture leave nothing to cast a shadow on. */
  maxObjectShare: 0.9,
  /** Fewer derived shadow pixels than this (at the working size): no visible shadow. */
  minShadowPixels: 6,
}

interface DiffAnalysis {
  /** 1 where darkened, 2 where brightened, 0 unchanged; w x h. */
  change: Uint8Array
  /** 1 where a darkened pixel is near the object. */
  nearDark: Uint8Array
  darkened: number
  brightened: number
  nearDarkCount: number
}

/** 3x3 box blur of a one-channel float map. */
function blur3(src: Float32Array, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h)
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0, n = 0
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy
        if (yy < 0 || yy >= h) continue
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx
          if (xx < 0 || xx >= w) continue
          s += src[yy * w + xx]
          n++
        }
      }
      out[y * w + x] = s / n
    }
  }
  return out
}

/**
 * Per pixel, the largest darkening over the three channels (0-255) and its size relative to that
 * channel's shadow-free value; the same for brightening. Per channel, not luminance: under a
 * coloured light a shadow may change one or two channels only.
 */
function channelChange(a: RawImage, b: RawImage): { dark: Float32Array; darkRel: Float32Array; bright: Float32Array; brightRel: Float32Array } {
  const n = a.width * a.height
  const dark = new Float32Array(n), darkRel = new Float32Array(n), bright = new Float32Array(n), brightRel = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const va = a.data[i * 3 + c], vb = b.data[i * 3 + c]
      const d = va - vb
      if (d > dark[i]) {
        dark[i] = d
        darkRel[i] = d / Math.max(va, 1)
      } else if (-d > bright[i]) {
        bright[i] = -d
        brightRel[i] = -d / Math.max(vb, 1)
      }
    }
  }
  return { dark, darkRel, bright, brightRel }
}

/**
 * Which pixels changed between the two pictures, and which darkened pixels belong to the object's
 * shadow: those connected (8-neighbours, through darkened pixels) to the object's surroundings, plus
 * any inside a margin around the object's box (the shadow of an object above the ground can be
 * detached from it).
 */
function analyseDifference(noShadow: RawImage, shadow: RawImage, object: RawImage): DiffAnalysis {
  const { width: w, height: h } = noShadow
  const { dark, darkRel, bright, brightRel } = channelChange(noShadow, shadow)
  const darkBlur = blur3(dark, w, h)
  const brightBlur = blur3(bright, w, h)
  const change = new Uint8Array(w * h)
  let darkened = 0, brightened = 0
  // A pixel changes when it passes the threshold itself and its neighbourhood agrees a little:
  // thin shadow lines survive, isolated noise (JPEG, sensor) does not.
  const support = CHECK.minDelta / 3
  for (let i = 0; i < w * h; i++) {
    if (dark[i] >= CHECK.minDelta && darkRel[i] >= CHECK.minRelativeDarkening && darkBlur[i] >= support && dark[i] >= bright[i]) {
      if (!object.data[i]) {
        change[i] = 1
        darkened++
      }
    } else if (bright[i] >= CHECK.minDelta && brightRel[i] >= CHECK.minRelativeDarkening && brightBlur[i] >= support) {
      change[i] = 2
      brightened++
    }
  }
  const objMask = new Uint8Array(w * h)
  for (let i = 0; i < w * h; i++) objMask[i] = object.data[i] ? 1 : 0
  const box = maskBoundingBox(object) ?? { x: 0, y: 0, width: w, height: h }
  const objSide = Math.max(box.width, box.height)
  const around = dilateMask(objMask, w, h, Math.max(2, Math.round(objSide * 0.08)))
  const margin = Math.round(objSide * 0.5)
  // Soft shadows fade below the threshold in places: pixels up to 2 apart still connect.
  const darkMask = new Uint8Array(w * h)
  for (let i = 0; i < w * h; i++) darkMask[i] = change[i] === 1 ? 1 : 0
  const bridge = dilateMask(darkMask, w, h, 2)
  const nearDark = new Uint8Array(w * h)
  const reached = new Uint8Array(w * h)
  const queue = new Int32Array(w * h)
  let qn = 0
  for (let i = 0; i < w * h; i++) {
    if (change[i] !== 1) continue
    const x = i % w, y = (i / w) | 0
    const inMargin = x >= box.x - margin && x < box.x + box.width + margin && y >= box.y - margin && y < box.y + box.height + margin
    if (around[i] || inMargin) {
      reached[i] = 1
      queue[qn++] = i
    }
  }
  for (let qi = 0; qi < qn; qi++) {
    const i = queue[qi]
    const x = i % w, y = (i / w) | 0
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy
      if (yy < 0 || yy >= h) continue
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx
        if (xx < 0 || xx >= w) continue
        const j = yy * w + xx
        if (bridge[j] && !reached[j]) {
          reached[j] = 1
          queue[qn++] = j
        }
      }
    }
  }
  let nearDarkCount = 0
  for (let i = 0; i < w * h; i++) {
    if (reached[i] && change[i] === 1) {
      nearDark[i] = 1
      nearDarkCount++
    }
  }
  return { change, nearDark, darkened, brightened, nearDarkCount }
}

function crop(img: RawImage, r: Rect): RawImage {
  const c = img.channels
  const out = new Uint8Array(r.width * r.height * c)
  for (let y = 0; y < r.height; y++) {
    const from = ((r.y + y) * img.width + r.x) * c
    out.set(img.data.subarray(from, from + r.width * c), y * r.width * c)
  }
  return { width: r.width, height: r.height, channels: img.channels, data: out }
}

function binarize(mask: RawImage): RawImage {
  const data = new Uint8Array(mask.data.length)
  for (let i = 0; i < data.length; i++) data[i] = mask.data[i] > 127 ? 255 : 0
  return { ...mask, data }
}

function count(data: Uint8Array): number {
  let n = 0
  for (let i = 0; i < data.length; i++) if (data[i]) n++
  return n
}

const ROLE_LABEL: Record<PairRole, string> = {
  noShadow: 'shadow-free picture',
  shadow: 'picture with the shadow',
  object: 'object mask',
  objectShadow: 'object-shadow mask',
  occluders: 'occluder mask',
  occluderShadows: 'occluder-shadow mask',
}

/**
 * Checks one pair and, when it passes, frames it the way the inference pipeline frames a photo
 * (context window around the object) at `workSize` x `workSize`.
 */
export async function checkPair(source: PairSource, workSize: number): Promise<{ ok: true; pair: CheckedPair } | { ok: false; rejected: RejectedPair }> {
  const where = source.layout === 'folder' ? (source.files.noShadow ?? '').replace(/[/\\][^/\\]+$/, '') : (source.files.noShadow ?? '')
  const reasons: string[] = []
  const reject = () => ({ ok: false as const, rejected: { id: source.id, where, reasons } })
  const decoded: Partial<Record<PairRole, RawImage>> = {}
  await Promise.all(
    (Object.keys(source.files) as PairRole[]).map(async (role) => {
      const path = source.files[role]!
      try {
        decoded[role] = role === 'noShadow' || role === 'shadow' ? await decodeRgb(path) : await decodeMask(path, 127)
      } catch (err) {
        reasons.push(`${ROLE_LABEL[role]}: ${err instanceof UserError ? err.message : (err as Error).message}`)
      }
    }),
  )
  if (reasons.length) return reject()
  const noShadow = decoded.noShadow!
  const shadow = decoded.shadow!
  const object = decoded.object!
  const { width: W, height: H } = noShadow
  for (const role of Object.keys(decoded) as PairRole[]) {
    const img = decoded[role]!
    if (img.width !== W || img.height !== H) reasons.push(`the ${ROLE_LABEL[role]} is ${img.width}x${img.height} but the shadow-free picture is ${W}x${H}`)
  }
  if (reasons.length) return reject()
  const objectPixels = count(object.data)
  if (objectPixels === 0) reasons.push('the object mask is empty')
  else if (objectPixels > CHECK.maxObjectShare * W * H) reasons.push(`the object mask covers ${Math.round((100 * objectPixels) / (W * H))}% of the picture: nothing is left for a shadow to fall on`)
  if (reasons.length) return reject()

  // Whole-picture checks on a reduced copy (fast, and JPEG noise averages out).
  const k = Math.min(1, CHECK.analysisSide / Math.max(W, H))
  const aw = Math.max(8, Math.round(W * k)), ah = Math.max(8, Math.round(H * k))
  const [sNo, sSh, sObj] = await Promise.all([resizeRawImage(noShadow, aw, ah), resizeRawImage(shadow, aw, ah), resizeRawImage(object, aw, ah, { kernel: 'nearest' })])
  const whole = analyseDifference(sNo, sSh, sObj)
  const total = aw * ah
  const changed = whole.darkened + whole.brightened
  if (changed < Math.max(4, total * 0.0002)) {
    reasons.push('the two pictures are (almost) identical: there is no shadow to learn from')
  } else if (changed > CHECK.maxChangedShare * total) {
    reasons.push(`the pictures differ almost everywhere (${Math.round((100 * changed) / total)}% of the pixels): exposure, white balance or the camera changed between the shots`)
  } else if (whole.brightened > whole.darkened) {
    reasons.push('the picture "with the shadow" is brighter than the shadow-free one where they differ: are the two files swapped?')
  } else {
    const nearShare = whole.nearDarkCount / changed
    if (nearShare < CHECK.minNearShare) {
      reasons.push(`the pictures differ mostly away from the object (only ${Math.round(nearShare * 100)}% of the changed pixels are near it): the camera, the light or the scene changed between the shots`)
    }
  }
  if (reasons.length) return reject()

  // Frame like the inference pipeline, then work at the working size.
  const box = maskBoundingBox(object)!
  const win = contextWindow(box, W, H)
  const derived: string[] = []
  const fit = async (img: RawImage) => (await resizeRawImage(crop(img, win), workSize, workSize)).data
  const [wNo, wSh, wObjRaw] = await Promise.all([fit(noShadow), fit(shadow), fit(object)])
  const wObj = binarize({ width: workSize, height: workSize, channels: 1, data: wObjRaw }).data
  let objectShadow: Uint8Array
  if (decoded.objectShadow) {
    objectShadow = binarize({ width: workSize, height: workSize, channels: 1, data: await fit(decoded.objectShadow) }).data
  } else {
    const local = analyseDifference(
      { width: workSize, height: workSize, channels: 3, data: wNo },
      { width: workSize, height: workSize, channels: 3, data: wSh },
      { width: workSize, height: workSize, channels: 1, data: wObj },
    )
    objectShadow = new Uint8Array(workSize * workSize)
    for (let i = 0; i < objectShadow.length; i++) objectShadow[i] = local.nearDark[i] ? 255 : 0
    derived.push(`object-shadow mask derived from the difference of the pictures near the object (${local.nearDarkCount} px at ${workSize}x${workSize})`)
  }
  const shadowArea = count(objectShadow)
  if (shadowArea < CHECK.minShadowPixels) {
    reasons.push(`no visible shadow of the object in the training window (${shadowArea} shadow pixels at ${workSize}x${workSize})`)
    return reject()
  }
  const empty = new Uint8Array(workSize * workSize)
  const occluders = decoded.occluders ? binarize({ width: workSize, height: workSize, channels: 1, data: await fit(decoded.occluders) }).data : empty
  const occluderShadows = decoded.occluderShadows ? binarize({ width: workSize, height: workSize, channels: 1, data: await fit(decoded.occluderShadows) }).data : empty
  const unknown = OPTIONAL_ROLES.filter((r) => r !== 'objectShadow' && !decoded[r])
  if (unknown.length) derived.push(`${unknown.map((r) => ROLE_LABEL[r]).join(' and ')} unknown: left out of the attention loss (not invented)`)
  return {
    ok: true,
    pair: {
      id: source.id,
      layout: source.layout,
      size: workSize,
      noShadow: wNo,
      shadow: wSh,
      object: wObj,
      objectShadow,
      occluders,
      occluderShadows,
      given: { objectShadow: !!decoded.objectShadow, occluders: !!decoded.occluders, occluderShadows: !!decoded.occluderShadows },
      derived,
      shadowArea,
      window: { x: win.x, y: win.y, width: win.width, height: win.height },
      photoSize: { width: W, height: H },
    },
  }
}

/** Finds and checks every pair in `root` (two at a time: decoding is the cost). */
export async function checkPairFolder(root: string, workSize: number, onProgress?: (done: number, total: number) => void): Promise<PairReport> {
  const { sources, rejected } = await findPairs(root)
  const accepted: CheckedPair[] = []
  let done = 0
  let next = 0
  const worker = async () => {
    while (next < sources.length) {
      const src = sources[next++]
      const r = await checkPair(src, workSize)
      if (r.ok) accepted.push(r.pair)
      else rejected.push(r.rejected)
      onProgress?.(++done, sources.length)
    }
  }
  await Promise.all([worker(), worker()])
  accepted.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  rejected.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return {
    root,
    accepted,
    rejected,
    derivedObjectShadow: accepted.filter((p) => !p.given.objectShadow).length,
    unknownOccluders: accepted.filter((p) => !p.given.occluders || !p.given.occluderShadows).length,
  }
}

/** The check report in words (CLI, logs). */
export function formatPairReport(r: PairReport): string {
  const lines = [`${r.accepted.length} pair(s) accepted, ${r.rejected.length} rejected in ${r.root}`]
  if (r.derivedObjectShadow) lines.push(`  object-shadow mask derived from the picture difference for ${r.derivedObjectShadow} pair(s)`)
  if (r.unknownOccluders) lines.push(`  occluder masks missing for ${r.unknownOccluders} pair(s): left out of the attention loss`)
  for (const rej of r.rejected) lines.push(`  rejected ${rej.id} (${rej.where}): ${rej.reasons.join('; ')}`)
  return lines.join('\n')
}
