import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { UserError } from '../core/errors'

/** A model folder as given, or a training run folder's model/ (commands accept either). */
export async function resolveModelDir(dir: string): Promise<string> {
  const hasManifest = async (d: string) => fs.stat(join(d, 'manifest.json')).then(() => true, () => false)
  if (await hasManifest(dir)) return dir
  if (await hasManifest(join(dir, 'model'))) return join(dir, 'model')
  throw new UserError('MODEL_NOT_FOUND', `${dir} is neither a model folder nor a training run with a model/ folder (no manifest.json)`)
}
