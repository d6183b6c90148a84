import { app, BrowserWindow, dialog, ipcMain, Menu, net, protocol, session, shell, type IpcMainInvokeEvent } from 'electron'
import { join, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { AssetStore } from '../core/assets'
import { SettingsService } from '../core/settings'
import { createDispatcher, type Handlers } from '../app/dispatch'
import { createHandlers } from '../app/handlers'
import type { AppContext } from '../app/context'
import { isEventName, type EventName, type EventPayload } from '../shared/api'
import { parseEvent } from '../shared/rpc'
import type { RecentFile } from '../shared/settings'
import { APP_ORIGIN, APP_SCHEME, devCsp, isAllowedNavigation, isTrustedSender, RENDERER_CSP, resolveAppPath } from './security'
import { ElectronStoreBackend } from './settings-store'
import { buildMenu } from './menu'
import { createUtilityEngineHost } from './engine-process'

/**
 * The Electron shell: one window, the app:// protocol, the IPC registration of the handlers in
 * src/app (the same list the web bridge serves), native dialogs, menus and the unsaved-changes
 * prompt. Long-running work (the shadow engine, batch, fine-tune) will live in a utilityProcess
 * started from here: add it as another AppContext service plus handlers in `extraHandlers`, and
 * forward its progress with `sendEvent` — nothing in the renderer changes.
 */
const HERE = fileURLToPath(new URL('.', import.meta.url))
const RENDERER_DIR = join(HERE, '..', 'renderer')
const PRELOAD = join(HERE, '..', 'preload', 'index.cjs')
const DEV_URL = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }])
app.enableSandbox()

let mainWindow: BrowserWindow | null = null
let documentState = { title: 'Umbra', dirty: false }
let forceClose = false

const settings = new SettingsService(new ElectronStoreBackend())

function sendEvent<E extends EventName>(name: E, payload: EventPayload<E>): void {
  if (!isEventName(name) || !mainWindow || mainWindow.isDestroyed()) return
  mainWindow.webContents.send('umbra:event', name, parseEvent(name, payload))
}

const ctx: AppContext = {
  appVersion: app.getVersion(),
  transport: 'electron',
  capabilities: { nativeDialogs: true, openByPath: true },
  assets: new AssetStore(),
  settings,
  samplesDir: join(app.getAppPath(), 'resources', 'samples'),
  // Events from handlers (batch progress, engine status) to the window.
  emit: sendEvent,
  // The shadow engine: a utilityProcess, started on first use (after app ready), model kept warm.
  engine: createUtilityEngineHost({ modelDir: process.env.UMBRA_MODEL_DIR || undefined }),
  onDocumentState(state) {
    documentState = state
    mainWindow?.setTitle(state.title)
    mainWindow?.setDocumentEdited(state.dirty)
  },
  close() {
    forceClose = true
    mainWindow?.close()
  },
}

const FILTERS = {
  photo: [{ name: 'Photos', extensions: ['jpg', 'jpeg', 'png', 'webp'] }],
  object: [{ name: 'Cut-outs with transparency', extensions: ['png', 'webp'] }],
  project: [{ name: 'Umbra project', extensions: ['umbra'] }],
  png: [{ name: 'PNG image', extensions: ['png'] }],
  jpeg: [{ name: 'JPEG image', extensions: ['jpg', 'jpeg'] }],
}

/** Transport-specific handlers: native dialogs. */
const extraHandlers: Handlers = {
  'dialog.openFile': async ({ kind, multiple }) => {
    const folder = settings.get().lastFolders[kind]
    const r = await dialog.showOpenDialog(mainWindow!, {
      title: kind === 'photo' ? 'Open photo' : kind === 'object' ? 'Insert cut-out' : 'Open project',
      defaultPath: folder,
      filters: FILTERS[kind],
      properties: ['openFile', ...(multiple ? (['multiSelections'] as const) : [])],
    })
    return { paths: r.canceled ? [] : r.filePaths }
  },
  'dialog.openFolder': async ({ purpose }) => {
    const r = await dialog.showOpenDialog(mainWindow!, {
      title: purpose === 'batchIn' ? 'Batch: input folder' : 'Batch: output folder',
      defaultPath: settings.get().lastFolders[purpose],
      properties: ['openDirectory', 'createDirectory'],
    })
    return { path: r.canceled || !r.filePaths[0] ? null : r.filePaths[0] }
  },
  'dialog.saveFile': async ({ kind, suggestedName, format }) => {
    const folder = settings.get().lastFolders[kind === 'project' ? 'project' : 'export']
    const r = await dialog.showSaveDialog(mainWindow!, {
      title: kind === 'project' ? 'Save project' : 'Export image',
      defaultPath: folder ? join(folder, suggestedName) : suggestedName,
      filters: kind === 'project' ? FILTERS.project : FILTERS[format ?? 'png'],
    })
    return { path: r.canceled || !r.filePath ? null : r.filePath }
  },
}

const dispatch = createDispatcher({ ...createHandlers(ctx), ...extraHandlers })

function registerIpc() {
  ipcMain.handle('umbra:call', async (event: IpcMainInvokeEvent, method: unknown, request: unknown) => {
    const frame = event.senderFrame
    const sender = frame ? { url: frame.url, isMainFrame: frame.parent === null } : null
    if (!isTrustedSender(sender, DEV_URL) || event.sender !== mainWindow?.webContents) {
      return { ok: false, error: { code: 'FORBIDDEN', message: 'this page may not call Umbra' } }
    }
    const envelope = await dispatch(String(method), request)
    if (envelope.ok && (method === 'asset.import' || method === 'project.open' || method === 'project.saveToPath' || method === 'recent.clear')) refreshMenu()
    return envelope
  })
}

function registerProtocol() {
  protocol.handle(APP_SCHEME, async (request) => {
    const file = resolveAppPath(request.url, RENDERER_DIR, join, sep)
    if (!file) return new Response('not found', { status: 404 })
    const res = await net.fetch(pathToFileURL(file).toString())
    const headers = new Headers(res.headers)
    headers.set('Content-Security-Policy', RENDERER_CSP)
    headers.set('X-Content-Type-Options', 'nosniff')
    return new Response(res.body, { status: res.status, headers })
  })
}

function hardenSessions() {
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
  session.defaultSession.setPermissionCheckHandler(() => false)
  if (DEV_URL) {
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [devCsp(DEV_URL)] } })
    })
  }
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(({ url }) => {
      // links to the web open in the user's browser, never in an Electron window
      if (/^https:\/\//.test(url)) void shell.openExternal(url)
      return { action: 'deny' }
    })
    contents.on('will-navigate', (event, url) => {
      if (!isAllowedNavigation(url, DEV_URL)) event.preventDefault()
    })
    contents.on('will-redirect', (event, url) => {
      if (!isAllowedNavigation(url, DEV_URL)) event.preventDefault()
    })
    contents.on('will-attach-webview', (event) => event.preventDefault())
  })
}

function refreshMenu() {
  Menu.setApplicationMenu(
    buildMenu({
      send: (action) => sendEvent('menu.action', { action }),
      recent: settings.get().recentFiles,
      openRecent: (f: RecentFile) => sendEvent('app.openPath', { path: f.path, kind: f.kind }),
      clearRecent: () => void settings.clearRecent().then(refreshMenu),
      isDev: !!DEV_URL,
    }),
  )
}

function createWindow() {
  const bounds = settings.get().windowBounds
  const win = new BrowserWindow({
    width: bounds?.width ?? 1400,
    height: bounds?.height ?? 900,
    x: bounds?.x,
    y: bounds?.y,
    minWidth: 800,
    minHeight: 500,
    title: 'Umbra',
    backgroundColor: '#1e1f22',
    show: false,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  })
  mainWindow = win
  if (bounds?.maximized) win.maximize()
  win.once('ready-to-show', () => win.show())

  let saveTimer: NodeJS.Timeout | undefined
  const saveBounds = () => {
    clearTimeout(saveTimer)
    saveTimer = setTimeout(() => {
      if (win.isDestroyed()) return
      const b = win.getNormalBounds()
      void settings.update({ windowBounds: { x: b.x, y: b.y, width: b.width, height: b.height, maximized: win.isMaximized() } })
    }, 400)
  }
  win.on('resize', saveBounds)
  win.on('move', saveBounds)

  win.on('close', (event) => {
    if (forceClose || !documentState.dirty) return
    event.preventDefault()
    const choice = dialog.showMessageBoxSync(win, {
      type: 'warning',
      buttons: ['Save…', "Don't Save", 'Cancel'],
      defaultId: 0,
      cancelId: 2,
      message: `Save changes to ${documentState.title.replace(/ •? ?— Umbra$/, '')} before closing?`,
      detail: 'Your changes will be lost if you don’t save them.',
    })
    if (choice === 0) sendEvent('app.saveThenClose', {})
    else if (choice === 1) {
      forceClose = true
      win.close()
    }
  })
  win.on('closed', () => {
    mainWindow = null
  })

  if (DEV_URL) void win.loadURL(DEV_URL)
  else void win.loadURL(`${APP_ORIGIN}/index.html`)
}

/** A file given on the command line (`umbra-app photo.jpg` / a double-clicked .umbra). */
function fileFromArgv(argv: string[]): { path: string; kind: 'photo' | 'project' } | null {
  const f = argv.slice(app.isPackaged ? 1 : 2).find((a) => !a.startsWith('-') && /\.(umbra|jpe?g|png|webp)$/i.test(a))
  if (!f) return null
  return { path: f, kind: /\.umbra$/i.test(f) ? 'project' : 'photo' }
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  app.on('second-instance', (_e, argv) => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore()
      mainWindow.focus()
      const f = fileFromArgv(argv)
      if (f) sendEvent('app.openPath', f)
    }
  })
  app.whenReady().then(() => {
    hardenSessions()
    registerProtocol()
    registerIpc()
    refreshMenu()
    createWindow()
    const f = fileFromArgv(process.argv)
    if (f) mainWindow?.webContents.once('did-finish-load', () => sendEvent('app.openPath', f))
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow()
    })
  })
  app.on('will-quit', () => void ctx.engine?.close())
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })
}
