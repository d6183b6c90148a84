import { spawn } from 'node:child_process'
import type { Command } from '../command'
import { intOption, parseCommandArgs } from '../args'

const usage = `usage: umbra web [--port N] [--open] [--settings FILE]

Runs the editor in a browser: serves the built renderer (dist-web) and the editor's API on
127.0.0.1 only. Every API request needs the random token printed in the address.

  --port N         port to listen on (default: a random free port)
  --open           open the address in the default browser
  --settings FILE  settings file (default: $UMBRA_SETTINGS or ~/.config/umbra/settings.json)

'npm run web' builds the renderer and runs 'umbra web --open'.`

function openInBrowser(url: string) {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open'
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url]
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true })
    child.on('error', () => console.error(`umbra web: could not open a browser; open the address above yourself`))
    child.unref()
  } catch {
    console.error('umbra web: could not open a browser; open the address above yourself')
  }
}

const command: Command = {
  name: 'web',
  summary: 'run the editor in a browser (web bridge on 127.0.0.1)',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { port: { type: 'string' }, open: { type: 'boolean' }, settings: { type: 'string' } }, usage)
    const port = intOption(values.port, 'port', 0, 0, 65535)
    const { startEditorServer } = await import('../../web/index')
    const bridge = await startEditorServer({ port, settingsPath: values.settings })
    console.log(`Umbra editor: ${bridge.url}`)
    console.log('(only this machine can reach it; press Ctrl+C to stop)')
    if (values.open) openInBrowser(bridge.url)
    await new Promise<void>((resolve) => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await bridge.close()
    return 0
  },
}
export default command
