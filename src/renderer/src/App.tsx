import { useEffect, useMemo } from 'react'
import { errorMessage, getClient } from './api/client'
import { actionForKey, actionsByName, insertObjects, openPhoto, openProject, openRecent, openSample, runAction } from './editor/actions'
import type { CanvasController } from './editor/canvas'
import { isTyping } from './editor/canvas'
import { EditorContext, useEditorState, type EditorServices } from './editor/context'
import { ACCEPT, browserFileHost, electronFileHost, fileToSource, type BrowserFileHost } from './editor/files'
import { EditorStore } from './editor/store'
import { CanvasView } from './ui/CanvasView'
import { ExportDialog } from './ui/ExportDialog'
import { LayersPanel } from './ui/LayersPanel'
import { PropertiesPanel } from './ui/PropertiesPanel'
import { BatchPanel } from './ui/BatchPanel'
import { FinetunePanel } from './ui/FinetunePanel'
import { ShadowPanel } from './shadow/ShadowPanel'
import { StatusBar } from './ui/StatusBar'
import { Toasts } from './ui/Toasts'
import { Toolbar } from './ui/Toolbar'

type Kind = 'photo' | 'object' | 'project'

export function App() {
  const services = useMemo<EditorServices>(() => {
    const store = new EditorStore()
    const api = getClient()
    store.onUnreferenced = (ids) => void api.call('asset.release', { ids }).catch(() => undefined)
    const canvas: { current: CanvasController | null } = { current: null }
    const s: EditorServices = {
      store,
      api,
      canvas,
      files: window.umbra ? electronFileHost(api) : browserFileHost(),
      run: (name) => void runAction(name, { store, api, canvas: canvas.current, files: s.files }),
    }
    return s
  }, [])

  useEffect(() => {
    const { store, api, run } = services
    // Read-only hooks for the browser tests and for debugging from the console.
    ;(window as unknown as { __umbra: unknown }).__umbra = { store, canvas: services.canvas, run, actions: [...actionsByName.keys()] }

    let cancelled = false
    void (async () => {
      try {
        const hello = await api.call('app.hello', {})
        if (cancelled) return
        store.set({ settings: hello.settings, transport: hello.transport, capabilities: hello.capabilities })
        if (hello.settings.preferences.openSampleOnStart && hello.sampleAvailable) await openSample(store, api)
      } catch (err) {
        store.toast('error', errorMessage(err))
      } finally {
        store.set({ ready: true })
      }
    })()

    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) && e.key !== 'Escape') return
      if (store.getState().dialog && e.key !== 'Escape') return
      const action = actionForKey(e)
      if (!action) return
      e.preventDefault()
      run(action.name)
    }
    window.addEventListener('keydown', onKey)

    const offMenu = api.on('menu.action', ({ action }) => run(action))
    const offOpen = api.on('app.openPath', ({ path, kind }) => void openRecent(store, api, path, kind))
    const offClose = api.on('app.saveThenClose', async () => {
      await services.files.saveProject({ store, api, files: services.files, canvas: services.canvas.current, state: store.getState() }, false)
      if (!store.dirty) await api.call('app.close', {})
    })

    // Title and the unsaved-changes flag go to the host (Electron asks before closing).
    let last = ''
    const unsub = store.subscribe(() => {
      const s = store.getState()
      const title = `${s.docName}${store.dirty ? ' •' : ''} — Umbra`
      const key = `${title}|${store.dirty}`
      if (key === last) return
      last = key
      document.title = title
      void api.call('app.documentState', { title, dirty: store.dirty }).catch(() => {})
    })
    const beforeUnload = (e: BeforeUnloadEvent) => {
      if (!window.umbra && store.dirty) {
        e.preventDefault()
        e.returnValue = ''
      }
    }
    window.addEventListener('beforeunload', beforeUnload)
    // Dropping a file outside the canvas must not navigate away from the editor.
    const stop = (e: DragEvent) => e.preventDefault()
    window.addEventListener('dragover', stop)
    window.addEventListener('drop', stop)
    return () => {
      cancelled = true
      window.removeEventListener('keydown', onKey)
      window.removeEventListener('beforeunload', beforeUnload)
      window.removeEventListener('dragover', stop)
      window.removeEventListener('drop', stop)
      offMenu()
      offOpen()
      offClose()
      unsub()
    }
  }, [services])

  async function onFiles(kind: Kind, list: FileList | File[]) {
    const { store, api } = services
    const files = [...list]
    if (!files.length) return
    try {
      if (kind === 'photo') await openPhoto(store, api, await fileToSource(files[0]))
      else if (kind === 'project') await openProject(store, api, await fileToSource(files[0]))
      else await insertObjects(store, api, await Promise.all(files.map(fileToSource)))
    } catch (err) {
      store.toast('error', errorMessage(err))
    }
  }

  /** Drag and drop: .umbra opens as a project; the first image becomes the photo; PNG/WebP after that are cut-outs. */
  async function onDrop(files: File[]) {
    for (const f of files) {
      const name = f.name.toLowerCase()
      const hasPhoto = services.store.getState().composition.layers.some((l) => l.kind === 'photo')
      if (name.endsWith('.umbra')) await onFiles('project', [f])
      else if (!hasPhoto || /\.(jpe?g)$/.test(name)) await onFiles('photo', [f])
      else await onFiles('object', [f])
    }
  }

  return (
    <EditorContext.Provider value={services}>
      <Shell onDrop={onDrop} />
      {(['photo', 'object', 'project'] as const).map((kind) => (
        <input
          key={kind}
          ref={(el) => {
            const files = services.files as Partial<BrowserFileHost>
            files.registerInput?.(kind, el)
          }}
          type="file"
          hidden
          accept={ACCEPT[kind]}
          multiple={kind === 'object'}
          data-testid={`file-input-${kind}`}
          onChange={(e) => {
            const list = e.target.files
            if (list) void onFiles(kind, [...list])
            e.target.value = ''
          }}
        />
      ))}
    </EditorContext.Provider>
  )
}

function Shell({ onDrop }: { onDrop(files: File[]): void }) {
  const state = useEditorState()
  return (
    <div className={`app${state.busy ? ' is-busy' : ''}`} data-ready={state.ready ? 'true' : 'false'}>
      <Toolbar />
      <main className="workspace">
        <CanvasView onDropFiles={onDrop} />
        <aside className="sidebar">
          <LayersPanel />
          <PropertiesPanel />
          <ShadowPanel />
          <BatchPanel />
          <FinetunePanel />
        </aside>
      </main>
      <StatusBar />
      <ExportDialog />
      <Toasts />
    </div>
  )
}
