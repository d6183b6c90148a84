/** Square morphology of 0/1 masks (one byte per pixel), separable and linear in the radius. */

/** Square dilation of a 0/1 mask by radius r (separable: rows, then columns). */
export function dilateMask(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice()
  // 1-D pass: out[i] = 1 when a set pixel lies within r steps along the line.
  const pass = (src: Uint8Array, dst: Uint8Array, lines: number, len: number, at: (line: number, k: number) => number) => {
    for (let line = 0; line < lines; line++) {
      let last = -Infinity
      for (let k = 0; k < len; k++) {
        if (src[at(line, k)]) last = k
        if (k - last <= r) dst[at(line, k)] = 1
      }
      last = Infinity
      for (let k = len - 1; k >= 0; k--) {
        if (src[at(line, k)]) last = k
        if (last - k <= r) dst[at(line, k)] = 1
      }
    }
  }
  const rows = new Uint8Array(w * h)
  pass(mask, rows, h, w, (y, x) => y * w + x)
  const out = new Uint8Array(w * h)
  pass(rows, out, w, h, (x, y) => y * w + x)
  return out
}

/** Square erosion of a 0/1 mask by radius r: the complement of the complement's dilation (pixels outside the frame count as set). */
export function erodeMask(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return mask.slice()
  const grown = dilateMask(mask.map((v) => (v ? 0 : 1)), w, h, r)
  return grown.map((v) => (v ? 0 : 1))
}
