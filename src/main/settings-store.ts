import Store from 'electron-store'
import type { Settings } from '../shared/settings'
import type { SettingsBackend } from '../core/settings'

/** Settings in Electron: electron-store (JSON in the app's userData folder, written atomically). */
export class ElectronStoreBackend implements SettingsBackend {
  private readonly store = new Store<Record<string, unknown>>({ name: 'settings', clearInvalidConfig: true })
  read(): unknown {
    return this.store.store
  }
  write(settings: Settings): void {
    this.store.store = settings as unknown as Record<string, unknown>
  }
}
