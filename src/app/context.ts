import type { AssetStore } from '../core/assets'
import type { SettingsStore } from '../core/settings'

/** What the handlers need from their host (Electron main or the web bridge). No Electron types here. */
export interface AppContext {
  appVersion: string
  transport: 'electron' | 'web'
  capabilities: { nativeDialogs: boolean; openByPath: boolean }
  assets: AssetStore
  settings: SettingsStore
  /** Folder holding the bundled sample (photo.jpg, object.png, sample.json). */
  samplesDir: string
  /** The renderer's title and unsaved-changes flag (Electron: window title, close prompt). */
  onDocumentState?(state: { title: string; dirty: boolean }): void
  /** Closes the window without asking (Electron). */
  close?(): void
}
