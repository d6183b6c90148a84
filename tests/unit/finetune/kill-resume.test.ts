import { describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { writePairFolder, writeTinyModel } from './fixtures'

const UMBRA = resolve('bin/umbra.mjs')

async function checkpointStep(runDir: string): Promise<number | null> {
  try {
    return (JSON.parse(await fs.readFile(join(runDir, 'checkpoint', 'state.json'), 'utf8')) as { step: number }).step
  } catch {
    return null
  }
}

describe('umbra finetune survives kill -9', () => {
  it('resumes from its checkpoint and finishes with a model and a before/after table', async () => {
    const root = await fs.mkdtemp(join(tmpdir(), 'umbra-ft-kill-'))
    try {
      const pairs = join(root, 'pairs')
      const base = join(root, 'base')
      const out = join(root, 'tuned')
      const runDir = `${out}.run`
      await writePairFolder(pairs, 8, { size: 40 })
      await writeTinyModel(base)
      const args = ['finetune', '--pairs', pairs, '--out', out, '--from', base, '--batch', '2', '--validate-every', '2', '--patience', '1000', '--backend', 'wasm']
      const child = spawn(process.execPath, [UMBRA, ...args, '--steps', '100000'], { stdio: ['ignore', 'ignore', 'pipe'] })
      let childErr = ''
      child.stderr.on('data', (d: Buffer) => (childErr += d.toString()))
      let exited = false
      child.once('exit', () => (exited = true))
      const end = Date.now() + 60_000
      for (;;) {
        if (exited) throw new Error(`umbra finetune exited early: ${childErr}`)
        const step = await checkpointStep(runDir)
        if (step !== null && step >= 2) break
        if (Date.now() > end) throw new Error('no checkpoint within 60 s')
        await new Promise((r) => setTimeout(r, 100))
      }
      child.kill('SIGKILL')
      if (!exited) await new Promise((r) => child.once('exit', r))
      const step = (await checkpointStep(runDir))!
      await expect(fs.stat(out)).rejects.toThrow() // killed: no model folder under the final name

      const target = step + 2
      const resumed = spawnSync(process.execPath, [UMBRA, 'finetune', '--out', out, '--resume', '--steps', String(target), '--backend', 'wasm'], { encoding: 'utf8' })
      expect(resumed.status, resumed.stderr).toBe(0)
      expect(resumed.stderr).toContain(`resuming at step ${step} of ${target}`)
      expect(resumed.stdout).toMatch(new RegExp(`finished at step ${target}`))
      expect(resumed.stdout).toMatch(/LRMSE\s+\d+\.\d+\s+\d+\.\d+/)
      expect(resumed.stdout).toMatch(/GRMSE\s+\d+\.\d+\s+\d+\.\d+/)
      expect(resumed.stdout).toMatch(/\d+\.\d+ steps\/s/)
      const manifest = JSON.parse(await fs.readFile(join(out, 'manifest.json'), 'utf8')) as { baseModel: string; training: { finetune: { stepsRun: number } } }
      expect(manifest.baseModel).toBe('tiny-base')
      expect(manifest.training.finetune.stepsRun).toBe(target)
    } finally {
      await fs.rm(root, { recursive: true, force: true })
    }
  }, 120_000)
})
