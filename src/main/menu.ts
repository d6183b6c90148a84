import { Menu, type MenuItemConstructorOptions } from 'electron'
import type { RecentFile } from '../shared/settings'

/**
 * The application menu. Every item names an action of the renderer's registry
 * (src/renderer/src/editor/actions.ts) and is sent as a `menu.action` event. Accelerators are
 * shown but not registered here (registerAccelerator: false): the renderer handles the keys itself,
 * so a shortcut runs once, the same way in the browser and in Electron.
 */
export function buildMenu(opts: {
  send(action: string): void
  recent: RecentFile[]
  openRecent(file: RecentFile): void
  clearRecent(): void
  isDev: boolean
}): Menu {
  const item = (label: string, action: string, accelerator?: string): MenuItemConstructorOptions => ({
    label,
    accelerator,
    registerAccelerator: false,
    click: () => opts.send(action),
  })
  const mac = process.platform === 'darwin'
  const template: MenuItemConstructorOptions[] = [
    ...(mac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        item('Open Photo…', 'openPhoto', 'CmdOrCtrl+O'),
        item('Insert Cut-out…', 'insertObject', 'CmdOrCtrl+I'),
        item('Open Project…', 'openProject', 'CmdOrCtrl+Shift+O'),
        {
          label: 'Open Recent',
          submenu: opts.recent.length
            ? [
                ...opts.recent.map((f): MenuItemConstructorOptions => ({ label: `${f.name}  (${f.kind})`, click: () => opts.openRecent(f) })),
                { type: 'separator' },
                { label: 'Clear Recent', click: () => opts.clearRecent() },
              ]
            : [{ label: 'No recent files', enabled: false }],
        },
        { type: 'separator' },
        item('Save Project', 'saveProject', 'CmdOrCtrl+S'),
        item('Save Project As…', 'saveProjectAs', 'CmdOrCtrl+Shift+S'),
        item('Export Image…', 'export', 'CmdOrCtrl+E'),
        { type: 'separator' },
        item('Open Sample', 'openSample'),
        { type: 'separator' },
        mac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    {
      label: '&Edit',
      submenu: [
        item('Undo', 'undo', 'CmdOrCtrl+Z'),
        item('Redo', 'redo', 'CmdOrCtrl+Shift+Z'),
        { type: 'separator' },
        item('Duplicate Layer', 'duplicateLayer', 'CmdOrCtrl+D'),
        item('Delete Layer', 'deleteLayer', 'Delete'),
        { type: 'separator' },
        item('Flip Horizontal', 'flipHorizontal', 'Shift+H'),
        item('Flip Vertical', 'flipVertical', 'Shift+V'),
      ],
    },
    {
      label: '&Layer',
      submenu: [
        item('Bring Forward', 'bringForward', 'CmdOrCtrl+]'),
        item('Send Backward', 'sendBackward', 'CmdOrCtrl+['),
        item('Show / Hide', 'toggleVisibility'),
        item('Lock / Unlock', 'toggleLock', 'CmdOrCtrl+L'),
        item('Rename', 'renameLayer', 'F2'),
      ],
    },
    {
      label: '&View',
      submenu: [
        item('Zoom In', 'zoomIn', 'CmdOrCtrl+='),
        item('Zoom Out', 'zoomOut', 'CmdOrCtrl+-'),
        item('Fit to Window', 'zoomFit', 'CmdOrCtrl+0'),
        item('Actual Pixels', 'zoom100', 'CmdOrCtrl+1'),
        ...(opts.isDev ? [{ type: 'separator' as const }, { role: 'toggleDevTools' as const }, { role: 'reload' as const }] : []),
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
  ]
  return Menu.buildFromTemplate(template)
}
