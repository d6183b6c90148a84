/**
 * Where a batch worker thread starts. From source (tsx, vitest, `npx umbra`) it is the plain-JS
 * entry beside the TypeScript worker, which registers tsx in the new thread. In the Electron build
 * (electron.vite.config.ts bundles the workers next to out/main/index.js) it is the bundled file.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export function workerEntry(bundledName: 'batch-worker' | 'batch-job-worker', sourceEntry: string, base: string): URL {
  // The caller may sit in out/main/ or in a shared chunk under out/main/chunks/.
  for (const rel of [`./${bundledName}.js`, `../${bundledName}.js`]) {
    const bundled = new URL(rel, base)
    if (existsSync(fileURLToPath(bundled))) return bundled
  }
  return new URL(sourceEntry, base)
}
