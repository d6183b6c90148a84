/**
 * Adds maps.onnx (model.onnx without its darkening output: the attention maps and the direction
 * output only, for the pipeline's first pass) to cast-frame model folders written before it
 * existed. The weights stay as they are; folders that have one are left alone.
 *
 *   npx tsx scripts/add-maps-graph.ts MODEL_DIR [MODEL_DIR ...]
 */
import { addMapsGraph } from '../src/engine/model-dir'

const dirs = process.argv.slice(2)
if (dirs.length === 0) {
  console.error('usage: npx tsx scripts/add-maps-graph.ts MODEL_DIR [MODEL_DIR ...]')
  process.exit(2)
}
for (const dir of dirs) console.log(`${dir}: ${(await addMapsGraph(dir)) ? 'maps.onnx added' : 'left as it is (has maps.onnx, or is not a cast-frame model)'}`)
