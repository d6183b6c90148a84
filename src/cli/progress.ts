/** A one-line progress bar with rate and ETA on stderr; plain lines when stderr is not a terminal. */
export class ProgressBar {
  private readonly start = Date.now()
  private lastDraw = 0
  private lastPlainPct = -1

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly unit = 'items',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, extra = ''): void {
    const now = Date.now()
    const finished = done >= this.total
    if (!finished && now - this.lastDraw < 100) return
    this.lastDraw = now
    const secs = (now - this.start) / 1000
    const rate = secs > 0 ? done / secs : 0
    const eta = rate > 0 ? (this.total - done) / rate : 0
    const pct = this.total > 0 ? Math.min(1, done / this.total) : 1
    const width = 28
    const filled = Math.round(pct * width)
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled)
    const line = `${this.label} [${bar}] ${done}/${this.total} ${(pct * 100).toFixed(0)}% ${rate.toFixed(2)} ${this.unit}/s ETA ${formatDuration(eta)}${extra ? ' ' + extra : ''}`
    if (this.stream.isTTY) {
      this.stream.write(`\r${line.padEnd(this.stream.columns ? this.stream.columns - 1 : line.length)}`)
      if (finished) this.stream.write('\n')
    } else {
      const step = Math.floor(pct * 10)
      if (step !== this.lastPlainPct || finished) {
        this.lastPlainPct = step
        this.stream.write(line + '\n')
      }
    }
  }
}

export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs) || secs < 0) return '--'
  const s = Math.round(secs)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`
}
