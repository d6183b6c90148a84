/**
 * The model folder: everything needed to run or fine-tune one trained shadow model.
 *
 *   manifest.json   what the model is (name, base model, input size, architecture, training
 *                   summary, validation metrics) and the sha256 of every other file
 *   model.json      tfjs topology + weight manifest (training and fine-tuning)
 *   weights.bin     tfjs weights
 *   model.onnx      the same network exported to ONNX (fast inference with onnxruntime)
 *   maps.onnx       cast-frame models: model.onnx without its darkening output (the attention
 *                   maps and the direction output only; onnx/subgraph.ts), for the pipeline's
 *                   first pass. Optional: folders written before it existed run model.onnx there.
 *
 * A folder is written under a temp name and renamed into place (writeDirAtomic), so a crash never
 * leaves a half-written model under its final name; every load checks the checksums of the files
 * it reads, so a damaged folder is refused with a clear UserError instead of producing garbage.
 *
 * This module imports tfjs only inside loadTfjsModel: reading a manifest or an ONNX file must not
 * pay for loading tfjs.
 */
import { promises as fs, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import type * as tf from '@tensorflow/tfjs'
import { UserError } from '../core/errors'
import { writeDirAtomic, writeFileAtomic } from '../core/atomic'
import { shapePriorSchema, type ShapePrior } from './shape-prior'

export const MODEL_FORMAT_VERSION = 1
export const MANIFEST_FILE = 'manifest.json'
export const TFJS_TOPOLOGY_FILE = 'model.json'
export const TFJS_WEIGHTS_FILE = 'weights.bin'
export const ONNX_FILE = 'model.onnx'
export const MAPS_ONNX_FILE = 'maps.onnx'

const trainingSummarySchema = z.looseObject({
  /** Number of training pairs seen (distinct samples in the training split). */
  dataCount: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  wallTimeSeconds: z.number().nonnegative(),
  /** tfjs backend that trained it: tensorflow-gpu, tensorflow, wasm or cpu. */
  backend: z.string(),
  /** The attention loss's positive-class cap it was trained with (losses.ts); absent: the default 10. */
  attentionPositiveCap: z.number().positive().optional(),
  /** Fine-tuned models: the light of their pairs (cast-frame.ts LightPrior), which the pipeline weighs the direction belief by. */
  lightPrior: z.object({ angleDeg: z.number().finite(), kappa: z.number().finite().nonnegative(), pairs: z.number().int().positive() }).optional(),
})

/** What the caller of saveModelDir provides; files, checksums and ONNX facts are filled in. */
export const modelManifestInputSchema = z.object({
  name: z.string().min(1),
  /** The model this one was fine-tuned from (its name), or null when trained from scratch. */
  baseModel: z.string().nullable().default(null),
  /** Model resolution S: the network takes [batch, S, S, 4]. */
  inputSize: z.number().int().positive(),
  architectureVersion: z.string().min(1),
  /** The ShadowModelConfig the network was built from (TRAIN's buildShadowModel argument). */
  architecture: z.record(z.string(), z.unknown()),
  /** null for a freshly initialised (untrained) model. */
  training: trainingSummarySchema.nullable().default(null),
  /** Validation numbers (e.g. { synthetic: { LRMSE: .. }, realDev: { .. } }); free-form by design. */
  metrics: z.record(z.string(), z.unknown()).default({}),
  /** Cast-frame models: the silhouette prior the pipeline mixes into the darkening (shape-prior.ts); absent: none. */
  shapePrior: shapePriorSchema.optional(),
})

export type ModelManifestInput = z.input<typeof modelManifestInputSchema>
export type TrainingSummary = z.infer<typeof trainingSummarySchema>

const fileEntrySchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int().nonnegative() })

export const modelManifestSchema = modelManifestInputSchema.extend({
  formatVersion: z.literal(MODEL_FORMAT_VERSION),
  createdAt: z.string(),
  onnx: z.object({
    opset: z.number().int(),
    inputName: z.string(),
    /** ONNX output names in the contract's order: attention, darkening. */
    outputNames: z.array(z.string()).min(1),
    /** Floating-point operations for one image at model resolution (multiply-add = 2). */
    flops: z.number().nonnegative(),
  }),
  parameterCount: z.number().int().nonnegative(),
  files: z.record(z.string(), fileEntrySchema),
})

export type ModelManifest = z.infer<typeof modelManifestSchema>

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * The Umbra checkout or install folder (the nearest folder above this module with Umbra's
 * package.json). Found by walking up, so it is right from the sources and from a bundle alike.
 */
export function umbraRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }
      if (pkg.name === 'umbra') return dir
    } catch {
      // no package.json here: keep walking up
    }
    const parent = dirname(dir)
    if (parent === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '../..')
    dir = parent
  }
}

/** Where `umbra shadow` looks when no --model is given. */
export function defaultModelDir(): string {
  return join(umbraRoot(), 'resources', 'models', 'default')
}

/** The tfjs topology + weights of a model, captured through a custom IO handler (no tfjs import needed). */
async function captureTfjsArtifacts(model: tf.LayersModel): Promise<{ modelJson: Uint8Array; weights: Uint8Array }> {
  let captured: tf.io.ModelArtifacts | undefined
  await model.save({
    save: async (artifacts: tf.io.ModelArtifacts) => {
      captured = artifacts
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    },
  })
  if (!captured || !captured.modelTopology || !captured.weightSpecs) {
    throw new Error('tfjs did not hand over the model topology and weights')
  }
  const weights = concatWeightData(captured.weightData ?? [])
  // The standard tfjs "layers-model" JSON, so tf.loadLayersModel('file://.../model.json') reads it too.
  const modelJson = {
    format: 'layers-model',
    generatedBy: captured.generatedBy,
    convertedBy: captured.convertedBy ?? null,
    modelTopology: captured.modelTopology,
    weightsManifest: [{ paths: [`./${TFJS_WEIGHTS_FILE}`], weights: captured.weightSpecs }],
  }
  return { modelJson: new TextEncoder().encode(JSON.stringify(modelJson)), weights }
}

/**
 * Writes a complete model folder atomically: tfjs weights, the ONNX export and a manifest with
 * checksums. An existing folder at `dir` is replaced only once the new one is complete.
 * Throws UserError('ONNX_EXPORT') when the network uses a layer the exporter cannot convert.
 */
export async function saveModelDir(dir: string, model: tf.LayersModel, manifestInput: ModelManifestInput): Promise<ModelManifest> {
  const input = modelManifestInputSchema.parse(manifestInput)
  const inputShape = model.inputs[0]?.shape
  if (!inputShape || inputShape[1] !== input.inputSize || inputShape[2] !== input.inputSize) {
    throw new UserError('MODEL_MISMATCH', `manifest inputSize ${input.inputSize} does not match the model input [${inputShape?.join(', ')}]`)
  }
  // The exporter (and the protobuf library under it) loads only here: running a model never needs it.
  const { exportLayersModelToOnnx, ONNX_OPSET } = await import('./onnx/export')
  const exported = exportLayersModelToOnnx(model)
  const { modelJson, weights } = await captureTfjsArtifacts(model)
  const contents: Record<string, Uint8Array> = {
    [TFJS_TOPOLOGY_FILE]: modelJson,
    [TFJS_WEIGHTS_FILE]: weights,
    [ONNX_FILE]: exported.bytes,
  }
  if (input.architecture.castFrame === 'down') contents[MAPS_ONNX_FILE] = await mapsGraph(exported.bytes, exported.outputs[1].name)
  const files: Record<string, z.infer<typeof fileEntrySchema>> = {}
  for (const [name, data] of Object.entries(contents)) files[name] = { sha256: sha256(data), bytes: data.byteLength }
  const manifest: ModelManifest = {
    formatVersion: MODEL_FORMAT_VERSION,
    ...input,
    createdAt: new Date().toISOString(),
    onnx: { opset: ONNX_OPSET, inputName: exported.inputName, outputNames: exported.outputs.map((o) => o.name), flops: exported.flops },
    parameterCount: model.countParams(),
    files,
  }
  await writeDirAtomic(dir, async (tmp) => {
    for (const [name, data] of Object.entries(contents)) await writeSynced(join(tmp, name), data)
    await writeSynced(join(tmp, MANIFEST_FILE), new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'))
  })
  return manifest
}

/** model.onnx without its darkening output (the protobuf library loads only here, as for the export). */
async function mapsGraph(onnxBytes: Uint8Array, darkeningName: string): Promise<Uint8Array> {
  const { withoutOutput } = await import('./onnx/subgraph')
  return withoutOutput(onnxBytes, darkeningName)
}

/**
 * Adds maps.onnx to a cast-frame model folder written before it existed (the same weights: only
 * the new file and the manifest are written, the manifest last and atomically). A folder that has
 * one, or is not a cast-frame model, is left as it is. Returns whether it wrote.
 */
export async function addMapsGraph(dir: string): Promise<boolean> {
  const { bytes, manifest } = await loadOnnxBytes(dir)
  if (manifest.files[MAPS_ONNX_FILE] || manifest.architecture.castFrame !== 'down') return false
  const data = await mapsGraph(bytes, manifest.onnx.outputNames[1])
  await writeFileAtomic(join(dir, MAPS_ONNX_FILE), data)
  const updated: ModelManifest = { ...manifest, files: { ...manifest.files, [MAPS_ONNX_FILE]: { sha256: sha256(data), bytes: data.byteLength } } }
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(updated, null, 2) + '\n')
  return true
}

async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  const handle = await fs.open(path, 'w')
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Reads and validates manifest.json (no checksums checked: that happens when files are read). */
export async function readModelManifest(dir: string): Promise<ModelManifest> {
  let stat
  try {
    stat = await fs.stat(dir)
  } catch {
    throw new UserError('MODEL_NOT_FOUND', `no model folder at ${dir}`)
  }
  if (!stat.isDirectory()) throw new UserError('MODEL_NOT_FOUND', `${dir} is not a model folder (it is a file)`)
  let text: string
  try {
    text = await fs.readFile(join(dir, MANIFEST_FILE), 'utf8')
  } catch {
    throw new UserError('MODEL_CORRUPT', `${dir} is not a model folder: ${MANIFEST_FILE} is missing`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new UserError('MODEL_CORRUPT', `${join(dir, MANIFEST_FILE)} is damaged (${(err as Error).message})`)
  }
  const parsed = modelManifestSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UserError('MODEL_CORRUPT', `${join(dir, MANIFEST_FILE)} is not a valid model manifest (${issue.path.join('.') || 'root'}: ${issue.message})`)
  }
  return parsed.data
}

/**
 * Sets (or with null removes) a model folder's silhouette prior. Only manifest.json changes, and it
 * is replaced atomically: the weights and their checksums stay as they are.
 */
export async function writeShapePrior(dir: string, prior: ShapePrior | null): Promise<ModelManifest> {
  const { shapePrior: _old, ...rest } = await readModelManifest(dir)
  const manifest: ModelManifest = prior ? { ...rest, shapePrior: shapePriorSchema.parse(prior) } : rest
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n')
  return manifest
}

/** Reads one file of a model folder and checks it against the manifest's sha256. */
export async function readVerifiedModelFile(dir: string, manifest: ModelManifest, name: string): Promise<Buffer> {
  const entry = manifest.files[name]
  if (!entry) throw new UserError('MODEL_CORRUPT', `${dir}: the manifest lists no ${name}`)
  let data: Buffer
  try {
    data = await fs.readFile(join(dir, name))
  } catch {
    throw new UserError('MODEL_CORRUPT', `${dir} is incomplete: ${name} is missing`)
  }
  if (data.byteLength !== entry.bytes || sha256(data) !== entry.sha256) {
    throw new UserError('MODEL_CORRUPT', `${join(dir, name)} is damaged: its checksum does not match the manifest (${data.byteLength} bytes, expected ${entry.bytes})`)
  }
  return data
}

/** Checks every file of the folder; returns the manifest. */
export async function verifyModelDir(dir: string): Promise<ModelManifest> {
  const manifest = await readModelManifest(dir)
  for (const name of Object.keys(manifest.files)) await readVerifiedModelFile(dir, manifest, name)
  return manifest
}

/** The ONNX export, checksum-verified (what the onnxruntime runner loads). */
export async function loadOnnxBytes(dir: string): Promise<{ bytes: Buffer; manifest: ModelManifest }> {
  const manifest = await readModelManifest(dir)
  return { bytes: await readVerifiedModelFile(dir, manifest, ONNX_FILE), manifest }
}

/** A cast-frame model's maps.onnx, checksum-verified, or null for a folder without one. */
export async function loadMapsOnnxBytes(dir: string, manifest: ModelManifest): Promise<Buffer | null> {
  return manifest.files[MAPS_ONNX_FILE] ? readVerifiedModelFile(dir, manifest, MAPS_ONNX_FILE) : null
}

/**
 * Loads the tfjs model for training, fine-tuning or the tfjs runtime. Uses whatever tfjs backend
 * is active (call initTfBackend first). Checksums are verified before anything is parsed.
 */
export async function loadTfjsModel(dir: string): Promise<{ model: tf.LayersModel; manifest: ModelManifest }> {
  const manifest = await readModelManifest(dir)
  const topologyBytes = await readVerifiedModelFile(dir, manifest, TFJS_TOPOLOGY_FILE)
  const weights = await readVerifiedModelFile(dir, manifest, TFJS_WEIGHTS_FILE)
  let modelJson: { modelTopology: unknown; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] }
  try {
    modelJson = JSON.parse(topologyBytes.toString('utf8'))
  } catch (err) {
    throw new UserError('MODEL_CORRUPT', `${join(dir, TFJS_TOPOLOGY_FILE)} is not valid JSON (${(err as Error).message})`)
  }
  const tfjs = await import('@tensorflow/tfjs')
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights)
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer
  try {
    const model = await tfjs.loadLayersModel(
      tfjs.io.fromMemory({ modelTopology: modelJson.modelTopology as object, weightSpecs, weightData }),
    )
    return { model, manifest }
  } catch (err) {
    throw new UserError('MODEL_CORRUPT', `cannot build the model in ${dir} (${(err as Error).message})`)
  }
}

/** tfjs hands weights over as one ArrayBuffer or several: one contiguous copy of them all. */
export function concatWeightData(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  const parts = Array.isArray(data) ? data : [data]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const p of parts) {
    out.set(new Uint8Array(p), offset)
    offset += p.byteLength
  }
  return out
}
