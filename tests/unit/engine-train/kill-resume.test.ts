import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { writeTinyPairSet } from './tiny-pairs'

const UMBRA = resolve('bin/umbra.mjs')

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== null) return v
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('umbra train survives kill -9', () => {
  it('resumes from the last checkpoint after SIGKILL', async () => {
    const root = await fs.mkdtemp(join(tmpdir(), 'umbra-kill-'))
    try {
      const pairs = join(root, 'pairs')
      const out = join(root, 'run')
      await writeTinyPairSet(pairs, 6, { size: 40 })
      const args = ['train', '--data', pairs, '--out', out, '--size', '32', '--width', '0.25', '--batch', '2', '--gan-start', '1', '--checkpoint-minutes', '0.01', '--model-minutes', '100', '--backend', 'wasm']
      const child = spawn(process.execPath, [UMBRA, ...args, '--steps', '100000'], { stdio: ['ignore', 'ignore', 'pipe'] })
      let childErr = ''
      child.stderr.on('data', (d: Buffer) => (childErr += d.toString()))
      let exited = false
      child.once('exit', () => (exited = true))
      // Wait for a checkpoint past step 0, then kill without warning.
      const stepAtKill = await waitFor(async () => {
        if (exited) throw new Error(`umbra train exited early: ${childErr}`)
        try {
          const state = JSON.parse(await fs.readFile(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number }
          return state.step >= 2 ? state.step : null
        } catch {
          return null
        }
      }, 60_000)
      child.kill('SIGKILL')
      if (!exited) await new Promise((r) => child.once('exit', r))
      const state = JSON.parse(await fs.readFile(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number }
      expect(state.step).toBeGreaterThanOrEqual(stepAtKill)

      const target = state.step + 2
      const resumed = spawnSync(process.execPath, [UMBRA, ...args, '--steps', String(target), '--resume'], { encoding: 'utf8' })
      expect(resumed.status, resumed.stderr).toBe(0)
      expect(resumed.stderr).toContain(`resumed ${out} at step ${state.step}`)
      expect(resumed.stdout).toContain(`finished at step ${target}`)
      const after = JSON.parse(await fs.readFile(join(out, 'checkpoint', 'state.json'), 'utf8')) as { step: number }
      expect(after.step).toBe(target)
      // the run wrote its model folder at the end (tfjs + ONNX + manifest)
      const manifest = JSON.parse(await fs.readFile(join(out, 'model', 'manifest.json'), 'utf8')) as { training: { steps: number } }
      expect(manifest.training.steps).toBe(target)
    } finally {
      await fs.rm(root, { recursive: true, force: true })
    }
  }, 120_000)
})
