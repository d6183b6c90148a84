import * as tf from '@tensorflow/tfjs'
import { parentPort, workerData } from 'node:worker_threads'
import { initTfBackend, type TfBackendName } from '../backend'
import { buildShadowModel } from '../model/architecture'
import { buildDiscriminator } from '../model/discriminator'
import { disposeBatch, freezeAllButShadowBlock, stackBatch } from './loop'
import { computeGradients, type WorkerInit } from './parallel'
import type { TrainExample } from './data'
import type { LossWeights } from './losses'

/** One gradient worker: its own tfjs backend and model replicas (see parallel.ts). */
async function main(): Promise<void> {
  const port = parentPort
  if (!port) throw new Error('grad-worker must run in a worker thread')
  const init = workerData as WorkerInit
  try {
    await initTfBackend(init.backend as TfBackendName)
    const generator = buildShadowModel(init.modelConfig)
    if (init.trainOnly === 'shadow') freezeAllButShadowBlock(generator)
    const frozen = generator.nonTrainableWeights
    if ((init.frozenWeights?.length ?? 0) !== frozen.length) throw new Error(`grad-worker: ${frozen.length} frozen weights, ${init.frozenWeights?.length ?? 0} sent`)
    frozen.forEach((w, i) => tf.tidy(() => {
      const v = w.read() as tf.Variable
      v.assign(tf.tensor((init.frozenWeights as Float32Array[])[i], v.shape))
    }))
    const discriminator = buildDiscriminator(init.discConfig)
    const gVars = generator.trainableWeights.map((w) => w.read() as tf.Variable)
    const dVars = discriminator.trainableWeights.map((w) => w.read() as tf.Variable)
    const setVars = (vars: tf.Variable[], values: Float32Array[]) => vars.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(values[i], v.shape))))
    port.on('message', (msg: { type: string; id: number; gWeights: Float32Array[]; dWeights: Float32Array[]; examples: TrainExample[]; weights: LossWeights; gan: boolean }) => {
      if (msg.type !== 'step') return
      try {
        setVars(gVars, msg.gWeights)
        setVars(dVars, msg.dWeights)
        const batch = stackBatch(msg.examples, init.modelConfig.size, init.shapePrior)
        try {
          const result = computeGradients(generator, discriminator, gVars, dVars, batch, msg.weights, msg.gan)
          port.postMessage({ type: 'result', id: msg.id, result })
        } finally {
          disposeBatch(batch)
        }
      } catch (err) {
        port.postMessage({ type: 'error', id: msg.id, error: (err as Error).message })
      }
    })
    port.postMessage({ type: 'ready' })
  } catch (err) {
    port.postMessage({ type: 'error', error: (err as Error).message })
  }
}

void main()
