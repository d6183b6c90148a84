/**
 * What a fine-tune run folder records about itself (finetune.json) and the check report summary:
 * kept apart from job.ts so the app can list and resume runs without loading tfjs.
 */
import { promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { UserError } from '../../core/errors'
import type { PairReport, RejectedPair } from './pairs'

export const FINETUNE_STATE_FILE = 'finetune.json'

export interface PairReportSummary {
  root: string
  accepted: { id: string; layout: 'folder' | 'flat'; derived: string[]; split?: 'train' | 'validation' }[]
  rejected: RejectedPair[]
  derivedObjectShadow: number
  unknownOccluders: number
}

const validationSchema = z.object({ darkeningL1: z.number(), localRmse: z.number(), globalRmse: z.number(), count: z.number() })

const runStateSchema = z.object({
  format: z.literal('umbra-finetune-run'),
  version: z.literal(1),
  pairsDir: z.string(),
  fromModelDir: z.string(),
  baseModel: z.string(),
  modelName: z.string(),
  outDir: z.string(),
  batch: z.number().int(),
  /** The step count asked for (a resume without a new one continues up to it). */
  steps: z.number().int().optional(),
  lr: z.number(),
  trainIds: z.array(z.string()),
  valIds: z.array(z.string()),
  before: validationSchema.nullable(),
  rejected: z.array(z.object({ id: z.string(), where: z.string(), reasons: z.array(z.string()) })),
  derivedObjectShadow: z.number().int(),
  unknownOccluders: z.number().int(),
  createdAt: z.string(),
})
export type RunState = z.infer<typeof runStateSchema>

export function defaultRunDir(outDir: string): string {
  return `${resolve(outDir)}.run`
}

export async function readRunState(runDir: string): Promise<RunState | null> {
  let text: string
  try {
    text = await fs.readFile(join(runDir, FINETUNE_STATE_FILE), 'utf8')
  } catch {
    return null
  }
  const parsed = runStateSchema.safeParse(JSON.parse(text))
  if (!parsed.success) throw new UserError('RUN_CORRUPT', `${join(runDir, FINETUNE_STATE_FILE)} is damaged: start a new fine-tune run`)
  return parsed.data
}

export function summarizeReport(report: PairReport, split?: { train: Set<string>; val: Set<string> }): PairReportSummary {
  return {
    root: report.root,
    accepted: report.accepted.map((p) => ({
      id: p.id,
      layout: p.layout,
      derived: p.derived,
      split: split ? (split.val.has(p.id) ? 'validation' : 'train') : undefined,
    })),
    rejected: report.rejected,
    derivedObjectShadow: report.derivedObjectShadow,
    unknownOccluders: report.unknownOccluders,
  }
}

