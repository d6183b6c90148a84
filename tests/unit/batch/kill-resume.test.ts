import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { promises as fs } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import sharp from 'sharp'
import { composite, listFiles, makeTinyModel, write, hashTree } from './fixtures'

/**
 * The real command (`bin/umbra.mjs batch`, worker threads started under tsx) killed with SIGKILL
 * midway: only whole files remain under their final names, and a rerun resumes.
 */
const BIN = resolve('bin/umbra.mjs')
const N = 16
let root: string
let modelDir: string
let inDir: string

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'umbra-batch-kill-'))
  modelDir = await makeTinyModel(join(root, 'model'))
  inDir = join(root, 'in')
  for (let i = 0; i < N; i++) {
    const c = await composite(640, 480, i, 'jpeg')
    await write(join(inDir, `img${String(i).padStart(2, '0')}.jpg`), c.photo)
    await write(join(inDir, `img${String(i).padStart(2, '0')}.mask.png`), c.mask)
  }
})
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true })
})

function batchArgs(outDir: string): string[] {
  return [BIN, 'batch', '--in', inDir, '--out', outDir, '--model', modelDir, '--workers', '1', '--in-flight', '1', '--layers']
}

async function everyFileWhole(outDir: string): Promise<string[]> {
  const files = await listFiles(outDir)
  for (const f of files) {
    const path = join(outDir, f)
    if (f.endsWith('.jpg') || f.endsWith('.png')) {
      if (f.split('/').pop()!.startsWith('.')) continue // a temp file, never a final name
      // A full decode fails on a truncated file.
      await sharp(path, { failOn: 'error' }).raw().toBuffer()
    } else if (f.endsWith('.json')) {
      JSON.parse(await fs.readFile(path, 'utf8'))
    }
  }
  return files
}

describe('kill -9 midway, then resume', () => {
  it('leaves only whole files and the rerun finishes the rest without redoing finished ones', async () => {
    const outDir = join(root, 'out')
    const before = await hashTree(inDir)
    const child = spawn(process.execPath, batchArgs(outDir), { stdio: 'ignore' })
    let exited = false
    child.on('exit', () => (exited = true))
    // Wait until a few results exist, then kill without warning.
    const deadline = Date.now() + 120_000
    for (;;) {
      const done = (await listFiles(outDir)).filter((f) => /^img\d+\.jpg$/.test(f)).length
      if (done >= 3 || exited || Date.now() > deadline) break
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(exited).toBe(false)
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))

    const afterKill = await everyFileWhole(outDir)
    const finished = afterKill.filter((f) => /^img\d+\.jpg$/.test(f))
    expect(finished.length).toBeGreaterThanOrEqual(3)
    expect(finished.length).toBeLessThan(N)
    expect(afterKill).not.toContain('report.json') // the killed run never got to its report

    const rerun = spawnSync(process.execPath, batchArgs(outDir), { encoding: 'utf8' })
    expect(rerun.status).toBe(0)
    const report = JSON.parse(await fs.readFile(join(outDir, 'report.json'), 'utf8'))
    const resumed = report.rows.filter((r: { reason: string }) => /already done/.test(r.reason))
    // Everything recorded before the kill is skipped (at most the item being written at the kill is redone).
    expect(resumed.length).toBeGreaterThanOrEqual(finished.length - 1)
    expect(report.summary.done + resumed.length).toBe(N)
    const final = await everyFileWhole(outDir)
    expect(final.filter((f) => /^img\d+\.jpg$/.test(f))).toHaveLength(N)
    expect(final.filter((f) => /^img\d+\.shadow\.png$/.test(f))).toHaveLength(N)
    expect(final.some((f) => f.endsWith('.tmp'))).toBe(false) // the killed run's temp files are cleaned
    expect(await hashTree(inDir)).toEqual(before)

    // a third run has nothing left to do
    const third = spawnSync(process.execPath, batchArgs(outDir), { encoding: 'utf8' })
    expect(third.status).toBe(0)
    expect(third.stdout).toMatch(/0 done, 16 skipped, 0 failed of 16 inputs/)
  })

  it('Ctrl+C (SIGINT) cancels cleanly: exit 130, whole files, a report listing what was cancelled', async () => {
    const outDir = join(root, 'out-int')
    const child = spawn(process.execPath, batchArgs(outDir), { stdio: 'ignore' })
    const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
    const deadline = Date.now() + 120_000
    while ((await listFiles(outDir)).filter((f) => /^img\d+\.jpg$/.test(f)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    child.kill('SIGINT')
    expect(await code).toBe(130)
    const files = await everyFileWhole(outDir)
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false)
    const report = JSON.parse(await fs.readFile(join(outDir, 'report.json'), 'utf8'))
    expect(report.summary.cancelled).toBe(true)
    expect(report.rows.filter((r: { reason: string }) => /cancelled/.test(r.reason)).length).toBeGreaterThan(0)
    expect(report.summary.done + report.rows.filter((r: { reason: string }) => /cancelled/.test(r.reason)).length).toBe(N)
  })

  it('exits 1 when an input failed and 2 on a usage error', async () => {
    const bad = join(root, 'bad')
    await write(join(bad, 'a.jpg'), (await composite(64, 48, 1)).photo)
    const r = spawnSync(process.execPath, [BIN, 'batch', '--in', bad, '--out', join(root, 'bad-out'), '--model', modelDir, '--workers', '0'], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/1 failed/)
    const u = spawnSync(process.execPath, [BIN, 'batch', '--in', bad, '--out', bad], { encoding: 'utf8' })
    expect(u.status).toBe(2)
    expect(u.stderr).toMatch(/must differ/)
  })
})
