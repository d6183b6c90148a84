import * as tf from '@tensorflow/tfjs'
import { promises as fs } from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, join } from 'node:path'
import { writeDirAtomic } from '../../core/atomic'
import { UserError } from '../../core/errors'
import { concatWeightData } from '../model-dir'

/** A tensor with a name (the element type of tf.io.encodeWeights' list and Optimizer.getWeights). */
export interface NamedTensor {
  name: string
  tensor: tf.Tensor
}


/**
 * Training checkpoints: everything needed to continue a run exactly where it stopped (generator,
 * discriminator, both optimizers' moments, step, RNG state, configuration), in a folder written
 * atomically (temp folder + rename). state.json carries the sha256 and byte size of every weight
 * file, and loading verifies them, so a damaged checkpoint is refused instead of silently loaded.
 *
 * Weights are stored positionally (the order of model.weights / the optimizer's weight list),
 * because tfjs renames variables when a model is built twice in one process.
 */
export const CHECKPOINT_FORMAT = 'umbra-train-checkpoint'
export const CHECKPOINT_VERSION = 1
export const CHECKPOINT_DIR = 'checkpoint'
const STATE_FILE = 'state.json'

export interface CheckpointPayload<Meta> {
  step: number
  meta: Meta
  /** Named groups of tensors, e.g. generator, discriminator, optG, optD. */
  groups: Record<string, NamedTensor[]>
}

interface StoredGroup {
  file: string
  sha256: string
  bytes: number
  specs: tf.io.WeightsManifestEntry[]
}

interface StoredState<Meta> {
  format: typeof CHECKPOINT_FORMAT
  version: number
  step: number
  savedAt: string
  meta: Meta
  groups: Record<string, StoredGroup>
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}


async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(path, 'w')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes runDir/checkpoint atomically (the previous checkpoint stays intact until the new one is complete). */
export async function saveCheckpoint<Meta>(runDir: string, payload: CheckpointPayload<Meta>): Promise<void> {
  const encoded: Record<string, { data: Uint8Array; specs: tf.io.WeightsManifestEntry[] }> = {}
  for (const [name, tensors] of Object.entries(payload.groups)) {
    const { data, specs } = await tf.io.encodeWeights(tensors)
    encoded[name] = { data: concatWeightData(data), specs }
  }
  const groups: Record<string, StoredGroup> = {}
  for (const [name, { data, specs }] of Object.entries(encoded)) {
    groups[name] = { file: `${name}.bin`, sha256: sha256(data), bytes: data.byteLength, specs }
  }
  const state: StoredState<Meta> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: payload.step,
    savedAt: new Date().toISOString(),
    meta: payload.meta,
    groups,
  }
  await writeDirAtomic(join(runDir, CHECKPOINT_DIR), async (tmp) => {
    for (const [name, { data }] of Object.entries(encoded)) await writeSynced(join(tmp, groups[name].file), data)
    // state.json last: a folder without it is never a checkpoint.
    await writeSynced(join(tmp, STATE_FILE), JSON.stringify(state, null, 1))
  })
}

export interface LoadedCheckpoint<Meta> {
  step: number
  meta: Meta
  savedAt: string
  /** Decoded tensors per group, in stored order (the caller disposes them). */
  groups: Record<string, tf.Tensor[]>
  path: string
}

/** Reads and verifies one checkpoint folder; throws UserError('CHECKPOINT_CORRUPT') on any damage. */
export async function readCheckpointDir<Meta>(dir: string): Promise<LoadedCheckpoint<Meta>> {
  const corrupt = (why: string) => new UserError('CHECKPOINT_CORRUPT', `checkpoint ${dir} is damaged: ${why}; it was not loaded`)
  let state: StoredState<Meta>
  try {
    state = JSON.parse(await fs.readFile(join(dir, STATE_FILE), 'utf8')) as StoredState<Meta>
  } catch (err) {
    throw corrupt(`${STATE_FILE} is ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable'}`)
  }
  if (state?.format !== CHECKPOINT_FORMAT || typeof state.step !== 'number' || typeof state.groups !== 'object' || state.groups === null) {
    throw corrupt(`${STATE_FILE} is not an Umbra training checkpoint`)
  }
  if (state.version !== CHECKPOINT_VERSION) throw corrupt(`unsupported checkpoint version ${state.version}`)
  const groups: Record<string, tf.Tensor[]> = {}
  try {
    for (const [name, g] of Object.entries(state.groups)) {
      let data: Buffer
      try {
        data = await fs.readFile(join(dir, basename(g.file)))
      } catch {
        throw corrupt(`${g.file} is missing`)
      }
      if (data.byteLength !== g.bytes) throw corrupt(`${g.file} has ${data.byteLength} bytes, expected ${g.bytes}`)
      if (sha256(data) !== g.sha256) throw corrupt(`${g.file} fails its sha256 check`)
      const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer
      const decoded = tf.io.decodeWeights(ab, g.specs)
      groups[name] = g.specs.map((s) => decoded[s.name])
    }
  } catch (err) {
    for (const ts of Object.values(groups)) tf.dispose(ts)
    throw err
  }
  return { step: state.step, meta: state.meta, savedAt: state.savedAt, groups, path: dir }
}

/**
 * Loads the run's checkpoint, or null when the run has none. If a crash happened in the middle of
 * replacing it (the old one moved aside, the new one not yet renamed), the complete one left
 * beside it is used.
 */
export async function loadCheckpoint<Meta>(runDir: string): Promise<LoadedCheckpoint<Meta> | null> {
  const main = join(runDir, CHECKPOINT_DIR)
  if (await exists(main)) return readCheckpointDir<Meta>(main)
  // writeDirAtomic's leftovers: .checkpoint.<pid>.<rand>.tmp (new, maybe incomplete) and ...tmp.old (previous, complete)
  let names: string[] = []
  try {
    names = await fs.readdir(runDir)
  } catch {
    return null
  }
  const leftovers = names.filter((n) => n.startsWith(`.${CHECKPOINT_DIR}.`))
  const candidates: { path: string; mtime: number }[] = []
  for (const n of leftovers) {
    const p = join(runDir, n)
    const st = await fs.stat(p).catch(() => null)
    if (st?.isDirectory()) candidates.push({ path: p, mtime: st.mtimeMs })
  }
  candidates.sort((a, b) => b.mtime - a.mtime)
  for (const c of candidates) {
    try {
      const loaded = await readCheckpointDir<Meta>(c.path)
      await fs.rename(c.path, main) // put it back under its name
      return { ...loaded, path: main }
    } catch {
      // incomplete or damaged leftover: try the next one
    }
  }
  return null
}

export async function hasCheckpoint(runDir: string): Promise<boolean> {
  return exists(join(runDir, CHECKPOINT_DIR))
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p)
    return true
  } catch {
    return false
  }
}

/** Named weights of a LayersModel in their stored order. */
export function modelWeightsNamed(model: tf.LayersModel): NamedTensor[] {
  return model.weights.map((w, i) => ({ name: `${i}:${w.originalName}`, tensor: w.read() }))
}

/** Sets a model's weights from a positional list, checking count and shapes first. */
export function setModelWeightsChecked(model: tf.LayersModel, tensors: tf.Tensor[], what: string): void {
  const weights = model.weights
  if (tensors.length !== weights.length) {
    throw new UserError('CHECKPOINT_MISMATCH', `the checkpoint's ${what} has ${tensors.length} weight tensors, the model ${weights.length}`)
  }
  weights.forEach((w, i) => {
    if (w.shape.join(',') !== tensors[i].shape.join(',')) {
      throw new UserError('CHECKPOINT_MISMATCH', `the checkpoint's ${what} weight ${i} (${w.originalName}) has shape [${tensors[i].shape}] but the model expects [${w.shape}]`)
    }
  })
  model.setWeights(tensors)
}


/**
 * Starts `target` from a trained `source` of the same design (layers matched by name): equal
 * layers are copied; a source layer whose convolution is narrower is widened into the target's,
 * so that the target computes exactly what the source did at first and the extra channels learn
 * from there (Net2Net-style: the extra channels get fresh weights in, but nothing out of them
 * reaches an original channel until training moves those weights off zero). Target layers with no
 * source counterpart (a new output, or a layer of the same name wired to other inputs) keep their
 * fresh initialisation and are returned in `fresh`;
 * `widened` lists the layers that grew. Throws when nothing matched at all.
 */
export function transferWeights(target: tf.LayersModel, source: tf.LayersModel): { fresh: string[]; widened: string[] } {
  const fresh: string[] = []
  const widened: string[] = []
  let matched = 0
  const transferred = new Set<string>()
  // Where each source layer's output channels sit among its target counterpart's output channels.
  const channelMaps = new Map<string, number[]>()
  const inboundOf = (layer: tf.layers.Layer) => (layer.inboundNodes[0]?.inboundLayers ?? []) as tf.layers.Layer[]
  const width = (shape: unknown) => {
    const sh = (Array.isArray((shape as unknown[])[0]) ? (shape as number[][])[0] : shape) as number[]
    return sh[sh.length - 1]
  }
  for (const src of source.layers) {
    const inputs = inboundOf(src).map((l) => channelMaps.get(l.name))
    const cls = src.getClassName()
    let dst: tf.layers.Layer | null = null
    try {
      dst = target.getLayer(src.name)
    } catch {
      dst = null
    }
    // The same name wired to other inputs is another layer (a redesigned head): it starts fresh.
    if (dst && inboundOf(dst).map((l) => l.name).join() !== inboundOf(src).map((l) => l.name).join()) dst = null
    let map: number[]
    if (cls === 'Concatenate') {
      map = []
      let offset = 0
      inboundOf(src).forEach((l, k) => {
        map.push(...(inputs[k] ?? []).map((c) => c + offset))
        offset += dst ? width(target.getLayer(l.name).outputShape) : 0
      })
    } else if (cls === 'Conv2D' && dst) {
      const cout = width(src.outputShape)
      map = Array.from({ length: cout }, (_, i) => i)
      const inMap = inputs[0] ?? []
      const [k, b] = src.getWeights()
      const [dk, db] = dst.getWeights()
      if (k.shape.join() === dk.shape.join()) {
        dst.setWeights(src.getWeights())
      } else {
        const [kh, kw, cin] = k.shape
        const [dkh, dkw, dcin, dcout] = dk.shape
        if (kh !== dkh || kw !== dkw || cin !== inMap.length || cout > dcout || inMap.some((c) => c >= dcin)) {
          throw new UserError('CHECKPOINT_MISMATCH', `layer ${src.name}: kernel [${k.shape}] cannot grow into [${dk.shape}]`)
        }
        const kv = k.dataSync()
        const nk = dk.dataSync().slice()
        for (let y = 0; y < kh * kw; y++) {
          for (let o = 0; o < cout; o++) {
            for (let c = 0; c < dcin; c++) nk[(y * dcin + c) * dcout + o] = 0
            for (let c = 0; c < cin; c++) nk[(y * dcin + inMap[c]) * dcout + o] = kv[(y * cin + c) * cout + o]
          }
        }
        const nb = db.dataSync().slice()
        nb.set(b.dataSync().subarray(0, cout))
        const grown = [tf.tensor(nk, dk.shape), tf.tensor(nb, db.shape)]
        dst.setWeights(grown)
        tf.dispose(grown)
        widened.push(src.name)
      }
      matched++
    } else {
      if (dst && src.getWeights().length > 0) throw new UserError('CHECKPOINT_MISMATCH', `layer ${src.name} (${cls}) cannot be transferred`)
      map = inputs[0] ?? Array.from({ length: width(src.outputShape) }, (_, i) => i)
    }
    if (dst) transferred.add(src.name)
    channelMaps.set(src.name, map)
  }
  for (const layer of target.layers) {
    if (layer.getWeights().length > 0 && !transferred.has(layer.name)) fresh.push(layer.name)
  }
  if (matched === 0) throw new UserError('CHECKPOINT_MISMATCH', 'the initial model shares no layer (same name) with the model being trained')
  return { fresh, widened }
}
