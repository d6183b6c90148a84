import { z } from 'zod'
import { api, ApiError, events, isEventName, isMethod, type ApiRequest, type ApiResponse, type Envelope, type EventName, type EventPayload, type Method } from './api'

/**
 * Validation of every message at the boundary, used by both sides:
 * the Node side (src/app/dispatch.ts) checks requests and its own responses; the renderer
 * (createClient) checks requests before sending and responses and events when they arrive.
 */

/** A message that does not satisfy the contract. `code` is BAD_REQUEST, BAD_RESPONSE or BAD_EVENT. */
export class ContractError extends Error {
  constructor(
    readonly code: 'BAD_REQUEST' | 'BAD_RESPONSE' | 'BAD_EVENT' | 'UNKNOWN_METHOD',
    message: string,
  ) {
    super(message)
    this.name = 'ContractError'
  }
}

function describe(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`)
    .join('; ')
}

export function parseRequest<M extends Method>(method: M, raw: unknown): z.output<(typeof api)[M]['request']> {
  if (!isMethod(method)) throw new ContractError('UNKNOWN_METHOD', `unknown method '${String(method)}'`)
  const r = api[method].request.safeParse(raw)
  if (!r.success) throw new ContractError('BAD_REQUEST', `invalid ${method} request: ${describe(r.error)}`)
  return r.data as z.output<(typeof api)[M]['request']>
}

export function parseResponse<M extends Method>(method: M, raw: unknown): ApiResponse<M> {
  const r = api[method].response.safeParse(raw)
  if (!r.success) throw new ContractError('BAD_RESPONSE', `invalid ${method} response: ${describe(r.error)}`)
  return r.data as ApiResponse<M>
}

export function parseEvent<E extends EventName>(name: E, raw: unknown): EventPayload<E> {
  if (!isEventName(name)) throw new ContractError('BAD_EVENT', `unknown event '${String(name)}'`)
  const r = events[name].safeParse(raw)
  if (!r.success) throw new ContractError('BAD_EVENT', `invalid ${name} event: ${describe(r.error)}`)
  return r.data as EventPayload<E>
}

const EnvelopeSchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: ApiError }),
])

export function parseEnvelope(raw: unknown): Envelope<unknown> {
  const r = EnvelopeSchema.safeParse(raw)
  if (!r.success) throw new ContractError('BAD_RESPONSE', `invalid reply envelope: ${describe(r.error)}`)
  return r.data as Envelope<unknown>
}

/** An error reported by the Node side (message meant for a person; code stable for tests). */
export class RemoteError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'RemoteError'
  }
}

/** A way to carry one call and to receive events; the web bridge and Electron IPC each provide one. */
export interface Transport {
  call(method: Method, request: unknown): Promise<unknown>
  subscribe(listener: (name: string, payload: unknown) => void): () => void
}

export interface Client {
  call<M extends Method>(method: M, request: ApiRequest<M>): Promise<ApiResponse<M>>
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void
}

/** The typed, validating client over a transport. */
export function createClient(transport: Transport): Client {
  return {
    async call(method, request) {
      const req = parseRequest(method, request)
      const env = parseEnvelope(await transport.call(method, req))
      if (!env.ok) throw new RemoteError(env.error.code, env.error.message)
      return parseResponse(method, env.result)
    },
    on(name, listener) {
      return transport.subscribe((n, payload) => {
        if (n !== name) return
        try {
          listener(parseEvent(name, payload))
        } catch (err) {
          console.error(err)
        }
      })
    },
  }
}
