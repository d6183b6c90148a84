// Entry of the thread that runs a fine-tune job for the app (off the main loop), through tsx so a checkout needs no build.
import { register } from 'tsx/esm/api'

register()
await import('./job-worker.ts')
