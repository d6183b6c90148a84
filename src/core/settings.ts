import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { pushRecent, Settings, SettingsPatch, type RecentFile } from '../shared/settings'
import { writeFileAtomic } from './atomic'

/**
 * Settings access behind one interface. Electron backs it with electron-store (src/main); the web
 * bridge and the CLI with a JSON file written atomically (JsonFileBackend). The merge logic
 * (patches, recent files, validation) lives here once, whatever the backend.
 */
export interface SettingsBackend {
  /** The stored object, or undefined when there is none yet. May be anything: it is validated. */
  read(): unknown
  write(settings: Settings): Promise<void> | void
}

export interface SettingsStore {
  get(): Settings
  update(patch: SettingsPatch): Promise<Settings>
  addRecent(file: Omit<RecentFile, 'openedAt'>): Promise<Settings>
  clearRecent(): Promise<Settings>
}

/** Parses stored settings; anything invalid is dropped field by field rather than losing everything. */
export function sanitizeSettings(raw: unknown): Settings {
  const full = Settings.safeParse(raw ?? {})
  if (full.success) return full.data
  const obj = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {}
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(Settings.shape)) {
    if (!(key in obj)) continue
    const one = Settings.safeParse({ [key]: obj[key] })
    if (one.success) out[key] = obj[key]
  }
  return Settings.parse(out)
}

export class SettingsService implements SettingsStore {
  private current: Settings
  private writing: Promise<void> = Promise.resolve()

  constructor(private readonly backend: SettingsBackend) {
    let raw: unknown
    try {
      raw = backend.read()
    } catch {
      raw = undefined
    }
    this.current = sanitizeSettings(raw)
  }

  get(): Settings {
    return structuredClone(this.current)
  }

  async update(patch: SettingsPatch): Promise<Settings> {
    const p = SettingsPatch.parse(patch)
    const next: Settings = {
      ...this.current,
      ...(p.windowBounds ? { windowBounds: p.windowBounds } : {}),
      lastFolders: { ...this.current.lastFolders, ...(p.lastFolders ?? {}) },
      preferences: { ...this.current.preferences, ...(p.preferences ?? {}) },
      panels: { ...this.current.panels, ...(p.panels ?? {}) },
    }
    return this.save(next)
  }

  async addRecent(file: Omit<RecentFile, 'openedAt'>): Promise<Settings> {
    return this.save({ ...this.current, recentFiles: pushRecent(this.current.recentFiles, { ...file, openedAt: new Date().toISOString() }) })
  }

  async clearRecent(): Promise<Settings> {
    return this.save({ ...this.current, recentFiles: [] })
  }

  private async save(next: Settings): Promise<Settings> {
    this.current = Settings.parse(next)
    const snapshot = structuredClone(this.current)
    // Writes are serialised so an older snapshot never lands after a newer one.
    this.writing = this.writing.then(() => this.backend.write(snapshot)).catch((err) => console.error('umbra: cannot save settings:', err))
    await this.writing
    return this.get()
  }
}

/** A JSON file, written atomically (temp + rename). A damaged file is read as defaults. */
export class JsonFileBackend implements SettingsBackend {
  constructor(readonly path: string) {}
  read(): unknown {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8'))
    } catch {
      return undefined
    }
  }
  async write(settings: Settings): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(settings, null, 2) + '\n')
  }
}

export class MemoryBackend implements SettingsBackend {
  constructor(public value: unknown = undefined) {}
  read(): unknown {
    return this.value
  }
  write(settings: Settings): void {
    this.value = structuredClone(settings)
  }
}

/** Where the web bridge and the CLI keep settings: $UMBRA_SETTINGS, else $XDG_CONFIG_HOME/umbra/settings.json. */
export function defaultSettingsPath(): string {
  if (process.env.UMBRA_SETTINGS) return process.env.UMBRA_SETTINGS
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config')
  return join(base, 'umbra', 'settings.json')
}
