/**
 * Compares two `umbra eval` runs on the same pairs, pair by pair: the mean of each, the mean paired
 * difference (other - base) with its standard error, and how many pairs got lower or higher.
 * Lower is better for GRMSE, LRMSE and BER. With --data (the pair folder both runs read), the
 * synthetic pairs are also grouped by their light setting (meta.json `light.setting`).
 *
 *   npx tsx scripts/compare-evals.ts BASE_EVAL_DIR OTHER_EVAL_DIR [--method model] [--data PAIR_DIR]
 *
 * e.g. npx umbra eval --data data/synth-heldout-v4 --baseline none --out runs/eval/held-shipped, the
 * same with --model runs/X --out runs/eval/held-X, then
 * npx tsx scripts/compare-evals.ts runs/eval/held-shipped runs/eval/held-X --data data/synth-heldout-v4
 */
import { parseArgs } from 'node:util'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { comparePaired, metricColumn, readPerSampleTable, type PairedComparison, type PerSampleTable } from '../src/engine/compare-evals'
import { UserError } from '../src/core/errors'

const { values, positionals } = parseArgs({ options: { method: { type: 'string' }, data: { type: 'string' } }, allowPositionals: true })
if (positionals.length !== 2) {
  console.error('usage: npx tsx scripts/compare-evals.ts BASE_EVAL_DIR OTHER_EVAL_DIR [--method model] [--data PAIR_DIR]')
  process.exit(2)
}
const [baseDir, otherDir] = positionals
/** Bad input is the user's to fix: its message, no stack trace. */
function exitOnUserError(err: unknown, prefix = ''): never {
  if (!(err instanceof UserError)) throw err
  console.error(`${prefix}${err.message}`)
  process.exit(1)
}
const [base, other] = await Promise.all([readPerSampleTable(baseDir), readPerSampleTable(otherDir)]).catch(exitOnUserError)

// Light setting per pair id, where the pair folder has a meta.json that says it (real photos have none).
const settings = new Map<string, string>()
if (values.data) {
  for (const id of base.ids) {
    try {
      const meta = JSON.parse(await readFile(join(values.data, id, 'meta.json'), 'utf8'))
      if (typeof meta?.light?.setting === 'string') settings.set(id, meta.light.setting)
    } catch {
      // no meta.json: the pair is left out of the groups, not of the totals
    }
  }
}
const groups: [string, string[] | undefined][] = [['all', undefined]]
for (const setting of [...new Set(settings.values())].sort()) groups.push([setting, [...settings].filter(([, s]) => s === setting).map(([id]) => id)])

function columnOf(dir: string, table: PerSampleTable, metric: string): string {
  try {
    return metricColumn(table, metric, values.method)
  } catch (err) {
    return exitOnUserError(err, `${dir}: `)
  }
}
const row = (label: string, c: PairedComparison) =>
  `${label.padEnd(14)} ${String(c.count).padStart(5)}  ${c.baseMean.toFixed(4).padStart(9)}  ${c.otherMean.toFixed(4).padStart(9)}  ${(c.meanDifference >= 0 ? '+' : '') + c.meanDifference.toFixed(4)} +- ${c.standardError.toFixed(4)}  ${String(c.lower).padStart(5)}  ${String(c.higher).padStart(6)}`
console.log(`base:  ${baseDir}\nother: ${otherDir}`)
for (const metric of ['GRMSE', 'LRMSE', 'BER']) {
  const b = base.values.get(columnOf(baseDir, base, metric))!
  const o = other.values.get(columnOf(otherDir, other, metric))!
  console.log(`\n${metric.padEnd(14)} pairs       base      other  other - base         lower  higher`)
  for (const [label, ids] of groups) console.log(row(label, comparePaired(b, o, ids)))
}
