/**
 * The binary frame the web bridge uses to carry a message that may contain binary data, so that
 * pixels never travel as base64 inside JSON:
 *
 *   "UMBF" | u32 LE: JSON length | JSON (UTF-8) | for each binary part: u32 LE length | bytes
 *
 * In the JSON every Uint8Array is replaced by `{"$bin": index}`. Over Electron IPC no frame is
 * needed: structured clone carries Uint8Array as it is.
 */
const MAGIC = [0x55, 0x4d, 0x42, 0x46] // "UMBF"

export class FrameError extends Error {}

function isBytes(v: unknown): v is Uint8Array {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]'
}

export function encodeFrame(value: unknown): Uint8Array {
  const parts: Uint8Array[] = []
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // Look at the holder's raw value: a Node Buffer's toJSON() has already run on `v`.
    const raw = key === '' ? v : this[key]
    if (isBytes(raw)) {
      parts.push(raw)
      return { $bin: parts.length - 1 }
    }
    return v
  })
  const jsonBytes = new TextEncoder().encode(json ?? 'null')
  let total = 8 + jsonBytes.length
  for (const p of parts) total += 4 + p.length
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  view.setUint32(4, jsonBytes.length, true)
  out.set(jsonBytes, 8)
  let at = 8 + jsonBytes.length
  for (const p of parts) {
    view.setUint32(at, p.length, true)
    out.set(p, at + 4)
    at += 4 + p.length
  }
  return out
}

export function decodeFrame(frame: Uint8Array): unknown {
  if (frame.length < 8 || MAGIC.some((b, i) => frame[i] !== b)) throw new FrameError('not an Umbra message frame')
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  const jsonLen = view.getUint32(4, true)
  if (8 + jsonLen > frame.length) throw new FrameError('truncated message frame')
  const json = new TextDecoder().decode(frame.subarray(8, 8 + jsonLen))
  const parts: Uint8Array[] = []
  let at = 8 + jsonLen
  while (at < frame.length) {
    if (at + 4 > frame.length) throw new FrameError('truncated message frame')
    const len = view.getUint32(at, true)
    if (at + 4 + len > frame.length) throw new FrameError('truncated message frame')
    parts.push(frame.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(json, (_key, v: unknown) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const keys = Object.keys(v)
        if (keys.length === 1 && keys[0] === '$bin') {
          const i = (v as { $bin: unknown }).$bin
          if (typeof i !== 'number' || !parts[i]) throw new FrameError('bad binary reference in message frame')
          return parts[i]
        }
      }
      return v
    })
  } catch (err) {
    if (err instanceof FrameError) throw err
    throw new FrameError('message frame holds invalid JSON')
  }
  return parsed
}
