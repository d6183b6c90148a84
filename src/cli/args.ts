import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UserError } from '../core/errors'

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs with errors turned into UserErrors that carry the command's usage. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true })
  } catch (err) {
    throw new UserError('BAD_ARGS', `${(err as Error).message}\n\n${usage}`)
  }
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UserError('BAD_ARGS', `--${name} must be a whole number from ${min} to ${max}, got '${value}'`)
  }
  return n
}

export function floatOption(value: string | undefined, name: string, fallback: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UserError('BAD_ARGS', `--${name} must be a number from ${min} to ${max}, got '${value}'`)
  }
  return n
}

export function requireOption<V>(value: V | undefined, name: string, usage: string): V {
  if (value === undefined || value === '') throw new UserError('BAD_ARGS', `--${name} is required\n\n${usage}`)
  return value
}
