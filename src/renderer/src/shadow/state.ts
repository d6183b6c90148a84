import { useSyncExternalStore } from 'react'
import type { EngineStatus } from '../../../shared/api'

/**
 * View state of the shadow tools (not part of the document, so not in undo): which overlay and
 * brush are active, compare, generation progress, the engine's status and the last timing.
 */
export type ShadowBrush = null | 'erase' | 'restore' | 'occluders' | 'occluderShadows' | 'clearAttention'

export interface ShadowViewState {
  attention: boolean
  brush: ShadowBrush
  brushSize: number
  comparing: boolean
  /** Light handle shown on the canvas for the selected shadow. */
  lightHandle: boolean
  generating: { requestId: string; objectId: string; label: string; fraction: number } | null
  engine: EngineStatus | null
  /** Click-to-shadow-on-screen of the last generation, ms (the benchmark prints it). */
  lastClickToScreenMs: number | null
  lastTimings: Record<string, number> | null
}

let state: ShadowViewState = {
  attention: false,
  brush: null,
  brushSize: 40,
  comparing: false,
  lightHandle: true,
  generating: null,
  engine: null,
  lastClickToScreenMs: null,
  lastTimings: null,
}
const listeners = new Set<() => void>()

export const shadowView = {
  get: (): ShadowViewState => state,
  set(patch: Partial<ShadowViewState>): void {
    state = { ...state, ...patch }
    for (const l of listeners) l()
  },
  subscribe(l: () => void): () => void {
    listeners.add(l)
    return () => listeners.delete(l)
  },
}

export function useShadowView(): ShadowViewState {
  return useSyncExternalStore(shadowView.subscribe, shadowView.get)
}
