import sharp from 'sharp'
import type { RawImage } from '../../core/image'

/**
 * Small raster drawing helpers for the loss plot and preview sheets: raw RGB pixels drawn here,
 * encoded with sharp; labels are an SVG overlay rendered by sharp (no plotting dependency).
 */
export interface Series {
  name: string
  color: [number, number, number]
  points: { x: number; y: number }[]
}

export function blankImage(width: number, height: number, rgb: [number, number, number] = [255, 255, 255]): RawImage {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = rgb[0]
    data[i * 3 + 1] = rgb[1]
    data[i * 3 + 2] = rgb[2]
  }
  return { width, height, channels: 3, data }
}

function setPixel(img: RawImage, x: number, y: number, c: [number, number, number]): void {
  x = Math.round(x)
  y = Math.round(y)
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return
  const o = (y * img.width + x) * 3
  img.data[o] = c[0]
  img.data[o + 1] = c[1]
  img.data[o + 2] = c[2]
}

export function drawLine(img: RawImage, x0: number, y0: number, x1: number, y1: number, c: [number, number, number], thick = 1): void {
  const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))))
  for (let i = 0; i <= n; i++) {
    const x = x0 + ((x1 - x0) * i) / n
    const y = y0 + ((y1 - y0) * i) / n
    for (let d = 0; d < thick; d++) {
      setPixel(img, x, y + d, c)
    }
  }
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch] as string)
}

/** Moving average over `window` points (loss curves of single steps are noisy). */
export function smooth(points: { x: number; y: number }[], window: number): { x: number; y: number }[] {
  if (window <= 1) return points
  const out: { x: number; y: number }[] = []
  let sum = 0
  for (let i = 0; i < points.length; i++) {
    sum += points[i].y
    if (i >= window) sum -= points[i - window].y
    out.push({ x: points[i].x, y: sum / Math.min(i + 1, window) })
  }
  return out
}

/** A line chart with a log-scale y axis, as PNG bytes. */
export async function renderLossPlot(series: Series[], title: string, width = 800, height = 420): Promise<Buffer> {
  const img = blankImage(width, height)
  const left = 70, right = 20, top = 36, bottom = 40
  const pw = width - left - right
  const ph = height - top - bottom
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && p.y > 0)
  const xMin = all.length ? Math.min(...all.map((p) => p.x)) : 0
  const xMax = all.length ? Math.max(xMin + 1, ...all.map((p) => p.x)) : 1
  let yMin = all.length ? Math.min(...all.map((p) => p.y)) : 0.01
  let yMax = all.length ? Math.max(...all.map((p) => p.y)) : 1
  yMin = Math.pow(10, Math.floor(Math.log10(yMin)))
  yMax = Math.pow(10, Math.ceil(Math.log10(yMax)))
  if (yMax <= yMin) yMax = yMin * 10
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin)) * pw
  const py = (y: number) => top + ph - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph
  const labels: string[] = []
  // grid: one line per decade
  for (let e = Math.log10(yMin); e <= Math.log10(yMax) + 1e-9; e++) {
    const y = py(Math.pow(10, e))
    drawLine(img, left, y, left + pw, y, [225, 225, 225])
    labels.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">1e${Math.round(e)}</text>`)
  }
  drawLine(img, left, top, left, top + ph, [0, 0, 0])
  drawLine(img, left, top + ph, left + pw, top + ph, [0, 0, 0])
  for (let i = 0; i <= 4; i++) {
    const x = xMin + ((xMax - xMin) * i) / 4
    labels.push(`<text x="${px(x)}" y="${top + ph + 18}" text-anchor="middle">${Math.round(x)}</text>`)
  }
  labels.push(`<text x="${left + pw / 2}" y="${height - 6}" text-anchor="middle">step</text>`)
  series.forEach((s, si) => {
    const pts = s.points.filter((p) => Number.isFinite(p.y) && p.y > 0)
    for (let i = 1; i < pts.length; i++) drawLine(img, px(pts[i - 1].x), py(pts[i - 1].y), px(pts[i].x), py(pts[i].y), s.color, 2)
    if (pts.length === 1) drawLine(img, px(pts[0].x) - 2, py(pts[0].y), px(pts[0].x) + 2, py(pts[0].y), s.color, 3)
    const lx = left + 10 + si * 150
    drawLine(img, lx, 14, lx + 20, 14, s.color, 3)
    labels.push(`<text x="${lx + 26}" y="${19}">${escapeXml(s.name)}</text>`)
  })
  labels.push(`<text x="${width - right}" y="${19}" text-anchor="end">${escapeXml(title)}</text>`)
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="sans-serif" font-size="12" fill="#222">${labels.join('')}</g></svg>`
  return sharp(Buffer.from(img.data), { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer()
}

/** A tile: float RGB (or grey) in [0,1], size*size. */
export interface Tile {
  data: Float32Array
  channels: 1 | 3
}

/** A grid of equally sized tiles (rows x columns), with column titles, as PNG bytes. */
export async function renderSheet(rows: Tile[][], size: number, titles: string[], gap = 4): Promise<Buffer> {
  const cols = Math.max(...rows.map((r) => r.length))
  const head = 20
  const width = cols * size + (cols + 1) * gap
  const height = head + rows.length * size + (rows.length + 1) * gap
  const img = blankImage(width, height, [40, 40, 40])
  rows.forEach((row, r) => {
    row.forEach((tile, c) => {
      const ox = gap + c * (size + gap)
      const oy = head + gap + r * (size + gap)
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const o = ((oy + y) * width + ox + x) * 3
          for (let k = 0; k < 3; k++) {
            const v = tile.channels === 3 ? tile.data[(y * size + x) * 3 + k] : tile.data[y * size + x]
            img.data[o + k] = Math.max(0, Math.min(255, Math.round(v * 255)))
          }
        }
      }
    })
  })
  const labels = titles.map((t, c) => `<text x="${gap + c * (size + gap) + size / 2}" y="14" text-anchor="middle">${escapeXml(t)}</text>`)
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="sans-serif" font-size="11" fill="#eee">${labels.join('')}</g></svg>`
  return sharp(Buffer.from(img.data), { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png()
    .toBuffer()
}
