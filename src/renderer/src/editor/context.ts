import { createContext, useContext, useSyncExternalStore } from 'react'
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
