// Builds resources/samples/boat.png: a rowing boat cut out of the sample photo's original
// (KDE Plasma wallpaper "EveningGlow", 2560x1600, Debian package plasma-workspace-wallpapers).
// The mask is a hand-traced polygon of the boat's outline (crop coordinates), feathered by 1 px.
// usage: node scripts/make-sample-cutout.mjs SOURCE.jpg OUT.png
import { Buffer } from 'node:buffer'
import sharp from 'sharp'

const [src, out] = process.argv.slice(2)
const crop = { left: 800, top: 770, width: 320, height: 480 }
const outline = [
  [22, 20], [110, 17], [186, 21], [200, 45], [222, 85], [247, 112], [266, 136], [282, 160], [291, 190],
  [292, 225], [287, 256], [268, 276], [250, 282], [247, 330], [243, 385], [240, 440], [233, 446],
  [222, 415], [190, 378], [140, 338], [90, 302], [42, 262], [12, 218], [5, 180], [4, 140], [8, 90], [14, 50],
]
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${crop.width}" height="${crop.height}">
  <rect width="100%" height="100%" fill="black"/>
  <polygon points="${outline.map((p) => p.join(',')).join(' ')}" fill="white"/></svg>`
const mask = await sharp(Buffer.from(svg)).greyscale().blur(1).raw().toBuffer()
const rgb = await sharp(src).extract(crop).removeAlpha().raw().toBuffer()
const rgba = Buffer.alloc(crop.width * crop.height * 4)
for (let i = 0; i < crop.width * crop.height; i++) {
  rgba[i * 4] = rgb[i * 3]
  rgba[i * 4 + 1] = rgb[i * 3 + 1]
  rgba[i * 4 + 2] = rgb[i * 3 + 2]
  rgba[i * 4 + 3] = mask[i]
}
await sharp(rgba, { raw: { width: crop.width, height: crop.height, channels: 4 } }).trim({ background: { r: 0, g: 0, b: 0, alpha: 0 } }).png({ compressionLevel: 9 }).toFile(out)
