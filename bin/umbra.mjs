#!/usr/bin/env node
// The `umbra` command. A checkout needs no build step: the TypeScript sources run through tsx.
// `umbra shadow` and `umbra bench` start ~0.3 s faster from the esbuild bundle in dist/cli/
// (scripts/build-cli.mjs). It is used only while it is newer than every source file it was built
// from, so it never runs stale code; when it is missing or stale, the command runs through tsx and
// the bundle is rebuilt afterwards for the next start. UMBRA_NO_BUNDLE=1 turns all of this off.
import { readFileSync, statSync } from 'node:fs'
import { URL } from 'node:url'

const BUNDLED_COMMANDS = new Set(['shadow', 'bench'])

function freshBundle() {
  try {
    const dir = new URL('../dist/cli/', import.meta.url)
    const { builtAt, inputs } = JSON.parse(readFileSync(new URL('inputs.json', dir), 'utf8'))
    for (const file of inputs) if (statSync(file).mtimeMs > builtAt) return null
    return new URL('umbra.js', dir).href
  } catch {
    return null // no bundle, or a source file it was built from is gone
  }
}

const useBundle = BUNDLED_COMMANDS.has(process.argv[2]) && !process.env.UMBRA_NO_BUNDLE
const bundle = useBundle ? freshBundle() : null
let main
if (bundle) {
  try {
    ;({ main } = await import(bundle))
  } catch {
    main = undefined // being rebuilt right now: run the sources instead
  }
}
if (!main) {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import('../src/cli/index.ts'))
}
process.exitCode = await main(process.argv.slice(2))
if (useBundle && !bundle) {
  // Refresh the bundle for the next start; a failure (read-only checkout, a racing build) is harmless.
  try {
    const { buildCli } = await import('../scripts/build-cli.mjs')
    await buildCli()
  } catch {
    // keep running from the sources
  }
}
