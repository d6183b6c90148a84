#!/usr/bin/env node
// Bundles the CLI (src/cli/index.ts and every command it loads lazily) into dist/cli/ with esbuild,
// so `umbra shadow` and `umbra bench` start without compiling TypeScript (tsx costs ~0.3 s per start).
// Optional: bin/umbra.mjs uses the bundle only for those commands and only while it is newer than
// every source file it was built from; otherwise it runs the sources through tsx (and refreshes the
// bundle after the command), so a checkout works with no build step.
//   node scripts/build-cli.mjs
import { build } from 'esbuild'
import { promises as fs } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BUNDLED_COMMANDS = ['shadow', 'bench']
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** Builds dist/cli/ (in a temp folder, swapped in whole); returns the number of source files. */
export async function buildCli() {
  const outDir = join(root, 'dist', 'cli')
  const tmpDir = `${outDir}.tmp-${process.pid}`
  const startedAt = Date.now()
  await fs.rm(tmpDir, { recursive: true, force: true })
  try {
    const result = await build({
      entryPoints: { umbra: join(root, 'src/cli/index.ts') },
      outdir: tmpDir,
      bundle: true,
      splitting: true, // each command stays a separate chunk, loaded only when run
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Native packages (sharp, onnxruntime-node), tfjs (its wasm backend finds its .wasm files beside
      // itself) and the protobuf library (loaded only when a model is saved) load from node_modules.
      // Pure-JS ones on the start-up path go into the bundle: zod as one file loads in ~40 ms here,
      // from its ~80 ESM files in ~120 ms.
      external: ['sharp', 'onnxruntime-node', '@tensorflow/*', 'onnx-proto'],
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      plugins: [
        {
          // Only the fast-start commands go into the bundle (bin/umbra.mjs uses it for nothing else);
          // the other commands stay unresolved imports, so their state never breaks this build.
          name: 'only-bundled-commands',
          setup(b) {
            b.onResolve({ filter: /^\.\/commands\// }, (args) =>
              BUNDLED_COMMANDS.includes(args.path.slice('./commands/'.length)) ? undefined : { path: args.path, external: true },
            )
          },
        },
      ],
    })
    const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(root, p))
    await fs.writeFile(join(tmpDir, 'inputs.json'), JSON.stringify({ builtAt: startedAt, inputs }, null, 1))
    await fs.rm(outDir, { recursive: true, force: true })
    await fs.rename(tmpDir, outDir)
    return inputs.length
  } finally {
    await fs.rm(tmpDir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const n = await buildCli()
  console.log(`built ${join(root, 'dist', 'cli', 'umbra.js')} from ${n} source files`)
}
