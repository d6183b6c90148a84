import type { Command } from './command'
import { UserError } from '../core/errors'

/**
 * Subcommands are imported lazily so that `umbra shadow` does not pay for loading the trainer,
 * the synthesizer or the web server at start-up.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  synth: { summary: 'render synthetic shadow pairs (training data)', load: async () => (await import('./commands/synth')).default },
  shadow: { summary: 'add a shadow to one photo', load: async () => (await import('./commands/shadow')).default },
  train: { summary: 'train the shadow model on pairs', load: async () => (await import('./commands/train')).default },
  eval: { summary: 'evaluate a model on pairs (GRMSE, LRMSE, SSIM, BER)', load: async () => (await import('./commands/eval')).default },
  batch: { summary: 'add shadows to a whole folder', load: async () => (await import('./commands/batch')).default },
  bench: { summary: 'measure inference and training speed', load: async () => (await import('./commands/bench')).default },
  finetune: { summary: 'fine-tune a shadow model on your own pairs', load: async () => (await import('./commands/finetune')).default },
  models: { summary: 'list, choose, rename, delete, export and import shadow models', load: async () => (await import('./commands/models')).default },
  web: { summary: 'run the editor in a browser (web bridge on 127.0.0.1)', load: async () => (await import('./commands/web')).default },
}

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return ['usage: umbra <command> [options]', '', 'commands:', ...rows, '', 'umbra <command> --help shows the options of one command.'].join('\n')
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage())
    return name ? 0 : 2
  }
  const entry = COMMANDS[name]
  if (!entry) {
    console.error(`umbra: unknown command '${name}'\n\n${usage()}`)
    return 2
  }
  let command: Command
  try {
    command = await entry.load()
  } catch (err) {
    console.error(`umbra ${name}: not available in this build (${(err as Error).message})`)
    return 1
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (err instanceof UserError) {
      console.error(`umbra ${name}: ${err.message}`)
      return 2
    }
    console.error(`umbra ${name}: unexpected error`)
    console.error(err)
    return 1
  }
}
