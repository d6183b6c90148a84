/**
 * Paired comparison of two `umbra eval` runs on the same pairs (their per-sample.csv). Means alone
 * cannot say whether a change is worth keeping: on 8 real photos one photo turned by 5 degrees
 * moves the mean GRMSE by about 0.15 (docs/model.md, twenty-third session). The paired mean
 * difference and its standard error can, and counting the pairs that got better shows whether a
 * change helps most pairs or moves a few a lot.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { UserError } from '../core/errors'

/** One eval run's per-sample metrics: `values.get(column).get(id)`, columns as in the CSV ("model.GRMSE"). */
export interface PerSampleTable {
  ids: string[]
  columns: string[]
  values: Map<string, Map<string, number>>
}

/** Parses `umbra eval`'s per-sample.csv (ids and metric names never hold commas; empty cells are not finite: left out). */
export function parsePerSampleCsv(text: string, source = 'per-sample.csv'): PerSampleTable {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0)
  const head = lines[0]?.split(',') ?? []
  if (head[0] !== 'id' || head.length < 2) throw new UserError('BAD_INPUT', `${source}: not a per-sample CSV of umbra eval (its first column must be "id")`)
  const columns = head.slice(1)
  const values = new Map(columns.map((c) => [c, new Map<string, number>()]))
  const ids: string[] = []
  for (const [n, line] of lines.slice(1).entries()) {
    const cells = line.split(',')
    if (cells.length !== head.length) throw new UserError('BAD_INPUT', `${source}: row ${n + 2} has ${cells.length} cells, the header ${head.length}`)
    ids.push(cells[0])
    columns.forEach((c, i) => {
      const v = cells[i + 1] === '' ? NaN : Number(cells[i + 1])
      if (Number.isFinite(v)) values.get(c)!.set(cells[0], v)
    })
  }
  return { ids, columns, values }
}

/** Reads `<evalDir>/per-sample.csv`. */
export async function readPerSampleTable(evalDir: string): Promise<PerSampleTable> {
  const file = join(evalDir, 'per-sample.csv')
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    throw new UserError('BAD_INPUT', `${file} cannot be read: give folders written by umbra eval --out`)
  }
  return parsePerSampleCsv(text, file)
}

/**
 * The column of `metric` for `method` ("model", "identity", ... or undefined: the only method other
 * than the baselines, e.g. "model (truth light)").
 */
export function metricColumn(table: PerSampleTable, metric: string, method?: string): string {
  const suffix = `.${metric}`
  const candidates = table.columns.filter((c) => c.endsWith(suffix) && (method === undefined ? !/^(identity|geometric)\./.test(c) : c === `${method}${suffix}`))
  if (candidates.length !== 1) {
    const methods = table.columns.filter((c) => c.endsWith(suffix)).map((c) => c.slice(0, -suffix.length))
    throw new UserError('BAD_INPUT', `no single ${method ?? 'model'} column for ${metric}: the run has ${methods.join(', ') || 'none'} (choose with --method)`)
  }
  return candidates[0]
}

export interface PairedComparison {
  /** Pairs where both runs have a finite value. */
  count: number
  baseMean: number
  otherMean: number
  /** Mean of other - base over the pairs. */
  meanDifference: number
  /** Standard error of that mean (sample standard deviation / sqrt(count); NaN under two pairs). */
  standardError: number
  /** Pairs where other is lower (better for RMSE and BER) or higher, by more than `tolerance`. */
  lower: number
  higher: number
}

/** Compares two runs' values pair by pair, over the ids both have (and, when given, only those in `ids`). */
export function comparePaired(base: Map<string, number>, other: Map<string, number>, ids?: Iterable<string>, tolerance = 1e-6): PairedComparison {
  const keep = ids ? new Set(ids) : null
  const differences: number[] = []
  let baseSum = 0
  let otherSum = 0
  for (const [id, b] of base) {
    const o = other.get(id)
    if (o === undefined || (keep && !keep.has(id))) continue
    differences.push(o - b)
    baseSum += b
    otherSum += o
  }
  const count = differences.length
  const meanDifference = count ? differences.reduce((a, d) => a + d, 0) / count : NaN
  const variance = count > 1 ? differences.reduce((a, d) => a + (d - meanDifference) ** 2, 0) / (count - 1) : NaN
  return {
    count,
    baseMean: count ? baseSum / count : NaN,
    otherMean: count ? otherSum / count : NaN,
    meanDifference,
    standardError: Math.sqrt(variance / count),
    lower: differences.filter((d) => d < -tolerance).length,
    higher: differences.filter((d) => d > tolerance).length,
  }
}
