#!/usr/bin/env node
// The `umbra` command. A checkout needs no build step: the TypeScript sources run through tsx.
// `umbra shadow` and `umbra bench` start ~0.3 s faster from the bundle that `node scripts/build-cli.mjs`
// writes to dist/cli/; it is used only while it is newer than every source file it was built from
// (so it can never run stale code), and UMBRA_NO_BUNDLE=1 turns it off.
import { readFileSync, statSync } from 'node:fs'
import { URL } from 'node:url'

const BUNDLED_COMMANDS = new Set(['shadow', 'bench'])

function freshBundle() {
  if (process.env.UMBRA_NO_BUNDLE) return null
  try {
    const dir = new URL('../dist/cli/', import.meta.url)
    const { builtAt, inputs } = JSON.parse(readFileSync(new URL('inputs.json', dir), 'utf8'))
    for (const file of inputs) if (statSync(file).mtimeMs > builtAt) return null
    return new URL('umbra.js', dir).href
  } catch {
    return null // no bundle, or a source file it was built from is gone
  }
}

const bundle = BUNDLED_COMMANDS.has(process.argv[2]) ? freshBundle() : null
let main
if (bundle) {
  ;({ main } = await import(bundle))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../src/cli/index.ts'))
}
process.exitCode = await main(process.argv.slice(2))
