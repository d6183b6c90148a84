// Worker entry: registers tsx in this thread (loader hooks are per thread) so the TypeScript
// worker runs from a checkout with no build step, under `npx umbra` and under tests alike.
import { register } from 'tsx/esm/api'

register()
await import('./worker.ts')
