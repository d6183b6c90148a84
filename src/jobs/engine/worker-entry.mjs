// Entry of the engine worker thread. Plain JavaScript so that Node can start it without help; it
// registers tsx in this thread (whether the parent runs under tsx, vitest or `npx umbra`), then
// loads the TypeScript worker.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')
