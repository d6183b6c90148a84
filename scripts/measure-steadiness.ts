/**
 * How steady the shadow's direction is when the object moves a little, with no light given (as
 * `umbra shadow` runs): each pair's shadow-free photo and object mask are moved together by
 * (-4, 0), (-2, 0), (2, 0), (4, 0), (0, -3) and (0, 3) pixels, and the hedge's heaviest direction
 * is compared with the unmoved one's. Prints per pair (up to 8 pairs) the direction in degrees and
 * its weight at each position, then over all pairs the range of that direction (mean, median,
 * 90th percentile) and how many moves turned it by more than 10 degrees.
 *
 *   npx tsx scripts/measure-steadiness.ts --data DIR [--model DIR] [--limit N] [--one-crop]
 *
 * --one-crop: the crop's own direction output alone (GenerateShadowOptions.steadyDirection false),
 * as the pipeline ran before the twenty-fourth session.
 */
import { parseArgs } from 'node:util'
import { createShadowEngine } from '../src/engine/inference'
import { generateShadow } from '../src/engine/pipeline'
import { loadEvalSample } from '../src/engine/evaluate'
import { scanPairFolder } from '../src/engine/train/data'
import { angleDifference } from '../src/engine/cast-frame'
import type { RawImage } from '../src/core/image'

const { values } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, limit: { type: 'string' }, 'one-crop': { type: 'boolean' } } })
if (!values.data) {
  console.error('usage: npx tsx scripts/measure-steadiness.ts --data DIR [--model DIR] [--limit N] [--one-crop]')
  process.exit(2)
}
const MOVES: [number, number][] = [[0, 0], [-4, 0], [-2, 0], [2, 0], [4, 0], [0, -3], [0, 3]]
const TURN_DEG = 10

/** The image moved by (dx, dy) pixels, its border repeated into the gap. */
function moved(im: RawImage, dx: number, dy: number): RawImage {
  const out = new Uint8Array(im.data.length)
  for (let y = 0; y < im.height; y++) {
    const sy = Math.min(im.height - 1, Math.max(0, y - dy))
    for (let x = 0; x < im.width; x++) {
      const sx = Math.min(im.width - 1, Math.max(0, x - dx))
      out.set(im.data.subarray((sy * im.width + sx) * im.channels, (sy * im.width + sx + 1) * im.channels), (y * im.width + x) * im.channels)
    }
  }
  return { ...im, data: out }
}

const engine = await createShadowEngine(values.model ? { modelDir: values.model } : {})
const entries = (await scanPairFolder(values.data, { includeHeldOut: true })).slice(0, Number(values.limit ?? Infinity))
const ranges: number[] = []
let turned = 0
let moves = 0
for (const entry of entries) {
  const sample = await loadEvalSample(entry)
  const angles: number[] = []
  const row: string[] = []
  for (const [dx, dy] of MOVES) {
    const r = await generateShadow(engine, { image: moved(sample.noShadow, dx, dy), mask: moved(sample.object, dx, dy) }, { layer: false, steadyDirection: !values['one-crop'] })
    const spread = r.cast?.spread ?? (r.cast ? [{ angle: r.cast.angle, weight: 1 }] : [])
    const top = spread.reduce<{ angle: number; weight: number } | null>((a, d) => (a && a.weight >= d.weight ? a : d), null)
    if (top) angles.push(top.angle)
    row.push(top ? `${((top.angle * 180) / Math.PI).toFixed(0)}@${(top.weight * 100).toFixed(0)}` : '-')
  }
  if (entries.length <= 8) console.log(entry.id, row.join('  '))
  if (angles.length !== MOVES.length) continue
  ranges.push((Math.max(...angles.flatMap((a) => angles.map((b) => angleDifference(a, b)))) * 180) / Math.PI)
  for (const a of angles.slice(1)) {
    moves++
    if ((angleDifference(a, angles[0]) * 180) / Math.PI > TURN_DEG) turned++
  }
}
await engine.dispose()
ranges.sort((a, b) => a - b)
const mean = ranges.reduce((a, b) => a + b, 0) / ranges.length
console.log(
  `${ranges.length} pairs${values['one-crop'] ? ' (one crop)' : ''}: the main direction's range over ${MOVES.length} positions, degrees: mean ${mean.toFixed(1)}, ` +
    `median ${ranges[ranges.length >> 1].toFixed(1)}, 90th percentile ${ranges[Math.floor(ranges.length * 0.9)].toFixed(1)}; ` +
    `moves that turned it by over ${TURN_DEG} degrees: ${turned} of ${moves}`,
)
