#!/usr/bin/env node
/**
 * `vitest run` with one narrow retry. When a test process dies without a report (vitest says
 * "Worker exited unexpectedly" and the file's tests stay pending), vitest cannot say why: it drops
 * the exit code and signal. CI saw this once, in a file that had passed every run before and since
 * (a native library crashing in that process is the likely cause). When that is the only problem —
 * no test failed, every unhandled error is such a death — the files that died are run once more,
 * and their result decides. Anything else fails as vitest says.
 *
 * Usage: node scripts/vitest-run.mjs [vitest run arguments...]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { stripVTControlCharacters } from 'node:util'

const vitest = join(import.meta.dirname, '..', 'node_modules', 'vitest', 'vitest.mjs')

/** Runs vitest, echoing its output, and returns its exit code, its output, and its JSON report. */
function runVitest(args) {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-vitest-'))
  const reportPath = join(dir, 'report.json')
  const child = spawn(process.execPath, [vitest, 'run', ...args, '--reporter=default', '--reporter=json', `--outputFile.json=${reportPath}`], {
    stdio: ['inherit', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (b) => { process.stdout.write(b); output += b })
  child.stderr.on('data', (b) => { process.stderr.write(b); output += b })
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      let report = null
      try {
        report = JSON.parse(readFileSync(reportPath, 'utf8'))
      } catch {
        // no report: vitest itself failed; its exit code says so
      }
      rmSync(dir, { recursive: true, force: true })
      resolve({ code: code ?? (signal ? 128 : 1), output: stripVTControlCharacters(output), report })
    })
  })
}

/** Files whose test process died: some of their tests never finished. Null when a retry would hide something. */
function filesThatDied({ output, report }) {
  if (!report) return null
  const results = report.testResults ?? []
  const failed = results.some((f) => (f.assertionResults ?? []).some((a) => a.status === 'failed') || (f.status === 'failed' && f.message))
  if (failed) return null
  const died = results.filter((f) => (f.assertionResults ?? []).some((a) => a.status === 'pending')).map((f) => f.name)
  const errors = Number(/Errors\s+(\d+) errors?/.exec(output)?.[1] ?? 0)
  const deaths = (output.match(/Worker exited unexpectedly/g) ?? []).length
  if (!died.length || errors !== deaths || died.length > deaths) return null
  return died
}

const args = process.argv.slice(2)
const first = await runVitest(args)
if (first.code === 0) process.exit(0)
const died = filesThatDied(first)
if (!died) process.exit(first.code)
const files = died.map((f) => relative(process.cwd(), f))
console.error(`\nvitest-run: a test process died without a report (vitest does not keep its exit signal) while running:\n  ${files.join('\n  ')}\nNo test failed. Running ${files.length === 1 ? 'that file' : 'those files'} once more; the result decides.\n`)
const second = await runVitest([...args, ...files])
process.exit(second.code)
