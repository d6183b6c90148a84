/**
 * Contact sheet of synthetic pairs: for each sample, noshadow | shadow | masks (object white,
 * object shadow red, occluders blue, occluder shadows green). Renders in memory with the same
 * renderer `umbra synth` uses.
 *   npx tsx scripts/contact-sheet.ts [--textures data/textures] [--seed 1] [--count 16] [--size 256]
 *                                    [--tile 176] [--out docs/synth-contact-sheet.png]
 */
import { parseArgs } from 'node:util'
import sharp, { type OverlayOptions } from 'sharp'
import { renderPair } from '../src/synth/render'
import { loadTextures } from '../src/synth/textures'
import { writeFileAtomic } from '../src/core/atomic'

const { values } = parseArgs({
  options: {
    textures: { type: 'string' },
    seed: { type: 'string', default: '1' },
    count: { type: 'string', default: '16' },
    size: { type: 'string', default: '256' },
    tile: { type: 'string', default: '176' },
    cols: { type: 'string', default: '2' },
    out: { type: 'string', default: 'docs/synth-contact-sheet.png' },
  },
})
const seed = Number(values.seed)
const count = Number(values.count)
const size = Number(values.size)
const tile = Number(values.tile)
const perRow = Number(values.cols)
const textures = await loadTextures(values.textures)
const rows = Math.ceil(count / perRow)
const gap = 4
const W = perRow * (3 * tile + 2 * gap) + (perRow - 1) * gap * 3
const H = rows * tile + (rows - 1) * gap
const composites: OverlayOptions[] = []
const t0 = performance.now()
for (let i = 0; i < count; i++) {
  const pair = renderPair(seed + i, { size, textures })
  const masks = new Uint8Array(size * size * 3)
  for (let p = 0; p < size * size; p++) {
    const o = p * 3
    if (pair.occluderShadows.data[p]) masks[o + 1] = 150
    if (pair.objectShadow.data[p]) masks[o] = 255
    if (pair.occluders.data[p]) masks[o + 2] = 220
    if (pair.object.data[p]) masks[o] = masks[o + 1] = masks[o + 2] = 255
  }
  const x = (i % perRow) * (3 * tile + 2 * gap + gap * 3)
  const y = Math.floor(i / perRow) * (tile + gap)
  const imgs = [pair.noShadow.data, pair.shadow.data, masks]
  for (let k = 0; k < 3; k++) {
    const buf = await sharp(Buffer.from(imgs[k]), { raw: { width: size, height: size, channels: 3 } }).resize(tile, tile).png().toBuffer()
    composites.push({ input: buf, left: x + k * (tile + gap), top: y })
  }
  console.error(`seed ${seed + i}: ${pair.meta.object.kind}, sun el ${pair.meta.light.elevationDeg.toFixed(0)} r ${pair.meta.light.angularRadiusDeg.toFixed(2)} (${pair.meta.light.setting}), attempt ${pair.meta.attempt}, shadow px ${pair.meta.areas.objectShadow}`)
}
const ms = performance.now() - t0
console.error(`${count} pairs in ${(ms / 1000).toFixed(1)} s (${((count * 1000) / ms).toFixed(2)} pairs/s, one thread, rendering only)`)
const png = await sharp({ create: { width: W, height: H, channels: 3, background: { r: 24, g: 24, b: 24 } } })
  .composite(composites)
  .png({ palette: true, quality: 90, effort: 8, colours: 256, dither: 0.6 })
  .toBuffer()
await writeFileAtomic(values.out as string, png)
console.error(`wrote ${values.out} (${(png.length / 1024).toFixed(0)} KiB)`)
