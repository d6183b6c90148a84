import { isMethod, type ApiResponse, type Envelope, type Method, type ParsedRequest } from '../shared/api'
import { ContractError, parseRequest, parseResponse } from '../shared/rpc'
import { UserError } from '../core/errors'

export type Handler<M extends Method> = (request: ParsedRequest<M>) => Promise<ApiResponse<M>>
export type Handlers = { [M in Method]?: Handler<M> }

/** Turns any thrown error into the envelope's error: UserErrors keep their message, others are hidden. */
export function toApiError(err: unknown): { code: string; message: string } {
  if (err instanceof UserError) return { code: err.code, message: err.message }
  if (err instanceof ContractError) return { code: err.code, message: err.message }
  console.error('umbra: unexpected error in a handler:', err)
  return { code: 'INTERNAL', message: `Something went wrong inside Umbra: ${(err as Error)?.message ?? String(err)}` }
}

/**
 * The one entry point both transports call: validates the request against the contract, runs the
 * handler, validates its response, and wraps the outcome in an envelope. Never throws.
 */
export function createDispatcher(handlers: Handlers) {
  return async function dispatch(method: string, rawRequest: unknown): Promise<Envelope<unknown>> {
    try {
      if (!isMethod(method)) throw new ContractError('UNKNOWN_METHOD', `unknown method '${method}'`)
      const handler = handlers[method] as Handler<Method> | undefined
      if (!handler) throw new UserError('NOT_AVAILABLE', `${method} is not available in this version of the editor`)
      const request = parseRequest(method, rawRequest)
      const response = await handler(request as never)
      return { ok: true, result: parseResponse(method, response) }
    } catch (err) {
      return { ok: false, error: toApiError(err) }
    }
  }
}
export type Dispatcher = ReturnType<typeof createDispatcher>
