// Entry of the thread that runs a whole batch job for the app (off the main loop); see worker-entry.mjs.
import { register } from 'tsx/esm/api'

register()
await import('./job-worker.ts')
