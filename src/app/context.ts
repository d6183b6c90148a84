import type { AssetStore } from '../core/assets'
import type { SettingsStore } from '../core/settings'
import type { EngineHost } from '../jobs/engine/host'
import type { EventName, EventPayload } from '../shared/api'

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
  /** The shadow engine process (worker thread or utilityProcess); absent = no shadow generation here. */
  engine?: EngineHost
  /** Pushes an event to the renderer (set by the host once its transport is up). */
  emit?<E extends EventName>(name: E, payload: EventPayload<E>): void
}
