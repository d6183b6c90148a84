import { z } from 'zod'

/**
 * Settings kept between runs: window bounds, recent files, last folders, preferences.
 * Electron stores them with electron-store; the web bridge and the CLI in a JSON file. Both go
 * through the SettingsStore interface in src/core/settings.ts. Every field has a default, so an
 * old or partial settings file always parses (unknown keys are dropped).
 */

export const RecentFile = z.object({
  path: z.string().min(1).max(4096),
  kind: z.enum(['photo', 'object', 'project']),
  name: z.string().max(500),
  openedAt: z.string().max(100),
})
export type RecentFile = z.infer<typeof RecentFile>

export const WindowBounds = z.object({
  x: z.number().int().optional(),
  y: z.number().int().optional(),
  width: z.number().int().min(200).max(20000),
  height: z.number().int().min(200).max(20000),
  maximized: z.boolean().default(false),
})
export type WindowBounds = z.infer<typeof WindowBounds>

export const FolderKind = z.enum(['photo', 'object', 'project', 'export', 'batchIn', 'batchOut', 'pairs'])
export type FolderKind = z.infer<typeof FolderKind>

const preferenceFields = {
  exportFormat: z.enum(['png', 'jpeg']),
  jpegQuality: z.number().int().min(1).max(100),
  /** Open the bundled sample when the editor starts with nothing open (set false after first start). */
  openSampleOnStart: z.boolean(),
  /** Longest side of the previews shown on the canvas (the originals are kept for export). */
  previewMaxSide: z.number().int().min(256).max(8192),
}

export const Preferences = z.object({
  exportFormat: preferenceFields.exportFormat.default('png'),
  jpegQuality: preferenceFields.jpegQuality.default(92),
  openSampleOnStart: preferenceFields.openSampleOnStart.default(true),
  previewMaxSide: preferenceFields.previewMaxSide.default(2048),
})
export type Preferences = z.infer<typeof Preferences>

/** A change to some preferences: no defaults here, so fields left out keep their stored values. */
export const PreferencesPatch = z.object(preferenceFields).partial()

export const MAX_RECENT_FILES = 10

export const Settings = z.object({
  windowBounds: WindowBounds.optional(),
  recentFiles: z.array(RecentFile).max(50).default([]),
  lastFolders: z.partialRecord(FolderKind, z.string().max(4096)).default({}),
  preferences: Preferences.prefault({}),
  /** Free space for later panels (batch, fine-tune, engine): each keeps its own key. */
  panels: z.record(z.string(), z.unknown()).default({}),
})
export type Settings = z.infer<typeof Settings>

export const SettingsPatch = z.object({
  windowBounds: WindowBounds.optional(),
  lastFolders: z.partialRecord(FolderKind, z.string().max(4096)).optional(),
  preferences: PreferencesPatch.optional(),
  panels: z.record(z.string(), z.unknown()).optional(),
})
export type SettingsPatch = z.infer<typeof SettingsPatch>

export function defaultSettings(): Settings {
  return Settings.parse({})
}

/** Adds a file to the front of the recent list (no duplicates, at most MAX_RECENT_FILES). */
export function pushRecent(list: RecentFile[], file: RecentFile): RecentFile[] {
  return [file, ...list.filter((f) => f.path !== file.path)].slice(0, MAX_RECENT_FILES)
}
