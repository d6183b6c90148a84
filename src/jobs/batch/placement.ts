/**
 * Where a cut-out goes on the background in cut-out mode (`--place RULE`).
 *
 * RULE is either an explicit position, `X,Y[,SCALE]` (the cut-out's top-left in photo pixels and
 * its scale: the same form as `umbra shadow --at`), or comma-separated terms:
 *   an anchor       top-left, top-centre, top-right, centre-left, centre, centre-right,
 *                   bottom-left, bottom-centre (default), bottom-right   ("center" also accepted)
 *   scale=S         the cut-out's pixels times S
 *   height=H        the object's visible height: `40%` of the background's height, or `800px`
 *   width=W         likewise for its width (with height too: the smaller scale of both wins)
 *   margin=M        gap between the object and the anchored edges: `5%` of the background's shorter
 *                   side (default), or `40px`
 *   offset=DX:DY    pixels added after anchoring (e.g. offset=0:-20)
 * Sizes and anchors use the object's VISIBLE box (alpha >= 128), not the file's canvas, so a cut-out
 * with transparent padding still stands on the margin line. Default: bottom-centre,height=50%,margin=5%.
 */
import { UserError } from '../../core/errors'

export const ANCHORS = ['top-left', 'top-centre', 'top-right', 'centre-left', 'centre', 'centre-right', 'bottom-left', 'bottom-centre', 'bottom-right'] as const
export type Anchor = (typeof ANCHORS)[number]

/** A length relative to the background (fraction) or absolute (pixels). */
export type Length = { unit: 'fraction'; value: number } | { unit: 'px'; value: number }

export type Placement =
  | { type: 'explicit'; x: number; y: number; scale: number }
  | { type: 'anchor'; anchor: Anchor; scale?: number; height?: Length; width?: Length; margin: Length; offsetX: number; offsetY: number }

export const DEFAULT_PLACE_RULE = 'bottom-centre,height=50%,margin=5%'

/** `X,Y[,SCALE]`: a top-left position in photo pixels and an optional scale (> 0). */
export function parseAt(value: string, what = '--at'): { x: number; y: number; scale: number } {
  const parts = value.split(',').map((s) => Number(s.trim()))
  if ((parts.length !== 2 && parts.length !== 3) || parts.some((n) => !Number.isFinite(n)) || (parts.length === 3 && !(parts[2] > 0))) {
    throw new UserError('BAD_ARGS', `${what} must be X,Y or X,Y,SCALE (numbers, SCALE > 0), got '${value}'`)
  }
  return { x: parts[0], y: parts[1], scale: parts[2] ?? 1 }
}

function parseLength(term: string, value: string): Length {
  const m = /^(\d+(?:\.\d+)?)(%|px)$/.exec(value.trim())
  if (!m) throw new UserError('BAD_PLACE', `--place ${term}=${value}: give a percentage (40%) or pixels (800px)`)
  const n = Number(m[1])
  if (m[2] === '%') return { unit: 'fraction', value: n / 100 }
  return { unit: 'px', value: n }
}

function normaliseAnchor(word: string): Anchor | null {
  const w = word.toLowerCase().replace(/center/g, 'centre').replace(/middle/g, 'centre')
  const aliases: Record<string, Anchor> = { 'centre-centre': 'centre', 'left-centre': 'centre-left', 'right-centre': 'centre-right', 'centre-top': 'top-centre', 'centre-bottom': 'bottom-centre' }
  const a = aliases[w] ?? w
  return (ANCHORS as readonly string[]).includes(a) ? (a as Anchor) : null
}

export function parsePlacement(rule: string = DEFAULT_PLACE_RULE): Placement {
  const text = rule.trim()
  if (/^[-+\d.\s]+,[-+\d.\s]+(,[\d.\s]+)?$/.test(text)) return { type: 'explicit', ...parseAt(text, '--place') }
  let anchor: Anchor = 'bottom-centre'
  let anchorSet = false
  const out: Extract<Placement, { type: 'anchor' }> = { type: 'anchor', anchor, margin: { unit: 'fraction', value: 0.05 }, offsetX: 0, offsetY: 0 }
  for (const raw of text.split(',')) {
    const term = raw.trim()
    if (!term) continue
    const eq = term.indexOf('=')
    if (eq < 0) {
      const a = normaliseAnchor(term)
      if (!a) throw new UserError('BAD_PLACE', `--place: unknown anchor '${term}' (one of ${ANCHORS.join(', ')}), or use X,Y[,SCALE]`)
      if (anchorSet) throw new UserError('BAD_PLACE', `--place: two anchors given ('${anchor}' and '${term}')`)
      anchor = a
      anchorSet = true
      continue
    }
    const key = term.slice(0, eq).trim().toLowerCase()
    const value = term.slice(eq + 1).trim()
    if (key === 'scale') {
      const s = Number(value)
      if (!(s > 0) || !Number.isFinite(s)) throw new UserError('BAD_PLACE', `--place scale must be a number above 0, got '${value}'`)
      out.scale = s
    } else if (key === 'height' || key === 'width') {
      const len = parseLength(key, value)
      if (!(len.value > 0)) throw new UserError('BAD_PLACE', `--place ${key} must be above 0`)
      out[key] = len
    } else if (key === 'margin') {
      out.margin = parseLength(key, value)
    } else if (key === 'offset') {
      const parts = value.split(':').map(Number)
      if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n))) throw new UserError('BAD_PLACE', `--place offset must be DX:DY in pixels, got '${value}'`)
      out.offsetX = parts[0]
      out.offsetY = parts[1]
    } else {
      throw new UserError('BAD_PLACE', `--place: unknown term '${key}' (anchor, scale=, height=, width=, margin=, offset=)`)
    }
  }
  if (out.scale !== undefined && (out.height || out.width)) throw new UserError('BAD_PLACE', '--place: give scale= or height=/width=, not both')
  if (out.scale === undefined && !out.height && !out.width) out.height = { unit: 'fraction', value: 0.5 }
  out.anchor = anchor
  return out
}

export interface Box {
  x: number
  y: number
  width: number
  height: number
}

/**
 * The cut-out's top-left (photo pixels, whole numbers) and scale for a background of bw x bh.
 * `visible` is the cut-out's visible box in its own pixels (whole canvas when unknown).
 */
export function resolvePlacement(p: Placement, bw: number, bh: number, cutW: number, cutH: number, visible: Box = { x: 0, y: 0, width: cutW, height: cutH }): { x: number; y: number; scale: number } {
  if (p.type === 'explicit') return { x: Math.round(p.x), y: Math.round(p.y), scale: p.scale }
  const px = (l: Length, of: number) => (l.unit === 'px' ? l.value : l.value * of)
  let scale = p.scale ?? Infinity
  if (p.height) scale = Math.min(scale, px(p.height, bh) / visible.height)
  if (p.width) scale = Math.min(scale, px(p.width, bw) / visible.width)
  if (!Number.isFinite(scale) || scale <= 0) scale = 1
  const margin = px(p.margin, Math.min(bw, bh))
  const vw = visible.width * scale
  const vh = visible.height * scale
  const [vert, horiz] = p.anchor === 'centre' ? ['centre', 'centre'] : p.anchor.split('-')
  // Where the visible box's top-left goes.
  const vx = horiz === 'left' ? margin : horiz === 'right' ? bw - margin - vw : (bw - vw) / 2
  const vy = vert === 'top' ? margin : vert === 'bottom' ? bh - margin - vh : (bh - vh) / 2
  return { x: Math.round(vx - visible.x * scale + p.offsetX), y: Math.round(vy - visible.y * scale + p.offsetY), scale }
}

/** The box of pixels with alpha >= 128 in an RGBA buffer (null when none). */
export function visibleBox(rgba: Uint8Array, width: number, height: number): Box | null {
  let top = -1
  let bottom = -1
  let left = width
  let right = -1
  for (let y = 0; y < height; y++) {
    const row = y * width * 4
    let any = false
    for (let x = 0; x < width; x++) {
      if (rgba[row + x * 4 + 3] >= 128) {
        any = true
        if (x < left) left = x
        if (x > right) right = x
      }
    }
    if (any) {
      if (top < 0) top = y
      bottom = y
    }
  }
  if (top < 0) return null
  return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 }
}
