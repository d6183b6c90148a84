import { createContext, useContext, useState, useSyncExternalStore } from 'react'
import type { Client } from '../../../shared/rpc'
import type { FileHost } from './actions'
import type { CanvasController } from './canvas'
import type { EditorState, EditorStore } from './store'

export interface EditorServices {
  store: EditorStore
  api: Client
  files: FileHost
  canvas: { current: CanvasController | null }
  run(name: string): void
}

export const EditorContext = createContext<EditorServices | null>(null)

export function useEditor(): EditorServices {
  const ctx = useContext(EditorContext)
  if (!ctx) throw new Error('useEditor outside EditorContext')
  return ctx
}

export function useEditorState(): EditorState {
  const { store } = useEditor()
  return useSyncExternalStore(store.subscribe, store.getState)
}

/**
 * A panel's settings: what the user edited in this session, else what settings remember (`fromSaved`
 * builds them from the loaded settings; null until those arrive). `set` patches the current ones.
 */
export function usePanelSettings<T>(fromSaved: (saved: NonNullable<EditorState['settings']>) => T): { settings: T | null; set: (patch: Partial<T>) => void } {
  const state = useEditorState()
  const [edited, setEdited] = useState<T | null>(null)
  const settings = edited ?? (state.settings ? fromSaved(state.settings) : null)
  return { settings, set: (patch) => settings && setEdited({ ...settings, ...patch }) }
}
