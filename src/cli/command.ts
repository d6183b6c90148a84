/** One `umbra` subcommand. Each lives in its own file under src/cli/commands/. */
export interface Command {
  name: string
  summary: string
  /** Full usage text printed by `umbra NAME --help` and on argument errors. */
  usage: string
  /** Returns the process exit code. Throw UserError for clear, expected failures. */
  run(argv: string[]): Promise<number>
}
