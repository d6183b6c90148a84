/**
 * report.csv and report.json: every input of the batch, with its status (done, skipped, failed),
 * the reason, its outputs and the time of each stage. Both written atomically.
 */
import { join } from 'node:path'
import { writeFileAtomic } from '../../core/atomic'
import type { BatchSummary, ReportRow } from './types'

export const REPORT_CSV = 'report.csv'
export const REPORT_JSON = 'report.json'

const TIMING_KEYS = ['read', 'decode', 'shadow', 'encode', 'write', 'total'] as const

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function reportCsv(rows: ReportRow[]): string {
  const header = ['input', 'kind', 'status', 'reason', 'outputs', 'width', 'height', ...TIMING_KEYS.map((k) => `${k}_ms`)]
  const lines = [header.join(',')]
  for (const r of rows) {
    lines.push(
      [r.input, r.kind, r.status, r.reason, r.outputs.join(';'), r.width ?? '', r.height ?? '', ...TIMING_KEYS.map((k) => (r.timings ? r.timings[k] : ''))].map(csvCell).join(','),
    )
  }
  return lines.join('\n') + '\n'
}

export async function writeReports(outDir: string, rows: ReportRow[], summary: Omit<BatchSummary, 'reportCsv' | 'reportJson'>): Promise<{ csv: string; json: string }> {
  const csv = join(outDir, REPORT_CSV)
  const json = join(outDir, REPORT_JSON)
  await writeFileAtomic(csv, reportCsv(rows))
  await writeFileAtomic(json, JSON.stringify({ format: 'umbra-batch-report', version: 1, summary, rows }, null, 2) + '\n')
  return { csv, json }
}
