import { describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonFileBackend, MemoryBackend, sanitizeSettings, SettingsService } from '../../../src/core/settings'
import { MAX_RECENT_FILES } from '../../../src/shared/settings'

describe('settings', () => {
  it('starts from defaults and merges patches', async () => {
    const backend = new MemoryBackend()
    const s = new SettingsService(backend)
    expect(s.get().preferences).toMatchObject({ exportFormat: 'png', jpegQuality: 92, openSampleOnStart: true })
    await s.update({ preferences: { openSampleOnStart: false } })
    await s.update({ preferences: { jpegQuality: 70 }, lastFolders: { photo: '/a' } })
    await s.update({ lastFolders: { export: '/b' }, windowBounds: { width: 1200, height: 800, maximized: false } })
    const v = s.get()
    expect(v.preferences).toMatchObject({ exportFormat: 'png', jpegQuality: 70, openSampleOnStart: false }) // a patch never resets other fields
    expect(v.lastFolders).toEqual({ photo: '/a', export: '/b' })
    expect((backend.value as { windowBounds: unknown }).windowBounds).toEqual({ width: 1200, height: 800, maximized: false })
  })

  it('keeps recent files unique, newest first, bounded', async () => {
    const s = new SettingsService(new MemoryBackend())
    for (let i = 0; i < 15; i++) await s.addRecent({ path: `/p/${i}.jpg`, kind: 'photo', name: `${i}.jpg` })
    await s.addRecent({ path: '/p/3.jpg', kind: 'photo', name: '3.jpg' })
    const r = s.get().recentFiles
    expect(r).toHaveLength(MAX_RECENT_FILES)
    expect(r[0].path).toBe('/p/3.jpg')
    expect(r.filter((f) => f.path === '/p/3.jpg')).toHaveLength(1)
    await s.clearRecent()
    expect(s.get().recentFiles).toEqual([])
  })

  it('refuses invalid patches', async () => {
    const s = new SettingsService(new MemoryBackend())
    await expect(s.update({ preferences: { jpegQuality: 0 } })).rejects.toThrow()
    expect(s.get().preferences.jpegQuality).toBe(92)
  })

  it('reads damaged or partial stored settings field by field', () => {
    const v = sanitizeSettings({ recentFiles: 'garbage', preferences: { jpegQuality: 50 }, lastFolders: { photo: '/x' }, unknown: 1 })
    expect(v.recentFiles).toEqual([])
    expect(v.preferences.jpegQuality).toBe(50)
    expect(v.lastFolders).toEqual({ photo: '/x' })
    expect(sanitizeSettings('nonsense').preferences.exportFormat).toBe('png')
  })

  it('JSON file backend writes atomically and survives a damaged file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-settings-'))
    const path = join(dir, 'sub', 'settings.json')
    const s = new SettingsService(new JsonFileBackend(path))
    await s.addRecent({ path: '/x.umbra', kind: 'project', name: 'x.umbra' })
    expect(JSON.parse(readFileSync(path, 'utf8')).recentFiles[0].path).toBe('/x.umbra')
    expect(new SettingsService(new JsonFileBackend(path)).get().recentFiles).toHaveLength(1)
    writeFileSync(path, '{ not json')
    expect(new SettingsService(new JsonFileBackend(path)).get().recentFiles).toEqual([])
  })
})
