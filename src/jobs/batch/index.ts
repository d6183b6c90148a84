/** The batch job (issue 6): shadows for a whole folder. See run.ts for the flow. */
export { runBatch, PauseControl, type BatchControl } from './run'
export { planBatch, isSystemFile, STATE_FILE } from './discover'
export { parsePlacement, resolvePlacement, parseAt, DEFAULT_PLACE_RULE, type Placement } from './placement'
export { REPORT_CSV, REPORT_JSON } from './report'
export type { BatchEvent, BatchOptions, BatchSummary, ReportRow, ItemStatus, InputKind } from './types'
