import { defineConfig } from 'electron-vite'
import react from '@vitejs/plugin-react'
import { resolve } from 'node:path'

// The Electron build: main (ESM, dependencies external), preload (one CommonJS file with its
// dependencies bundled, as sandboxed preloads require), renderer (the same sources as the web build).
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      externalizeDeps: true,
      rollupOptions: {
        input: {
          index: resolve(import.meta.dirname, 'src/main/index.ts'),
          // The shadow engine's utilityProcess (src/main/engine-process.ts forks it).
          'engine-worker': resolve(import.meta.dirname, 'src/main/engine-worker.ts'),
          // Batch: the job's thread and its item workers (src/jobs/batch/entries.ts finds them here).
          'batch-job-worker': resolve(import.meta.dirname, 'src/jobs/batch/job-worker.ts'),
          'batch-worker': resolve(import.meta.dirname, 'src/jobs/batch/worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(import.meta.dirname, 'src/preload/index.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    plugins: [react()],
    build: {
      outDir: 'out/renderer',
      chunkSizeWarningLimit: 2000,
      rollupOptions: { input: { index: resolve(import.meta.dirname, 'src/renderer/index.html') } },
    },
  },
})
