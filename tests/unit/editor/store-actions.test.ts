import { describe, expect, it } from 'vitest'
import { EditorStore, moveLayer, removeLayer, updateTransform } from '../../../src/renderer/src/editor/store'
import { actionForKey, actions, runAction } from '../../../src/renderer/src/editor/actions'
import { matchShortcut } from '../../../src/renderer/src/editor/shortcuts'
import type { Composition, Layer } from '../../../src/shared/project'

const T = { x: 10, y: 10, scaleX: 1, scaleY: 1, angle: 0, flipX: false, flipY: false }
const photo: Layer = { kind: 'photo', id: 'photo', name: 'P', assetId: 'a', visible: true, locked: false, opacity: 1 }
const obj = (id: string): Layer => ({ kind: 'object', id, name: id, assetId: 'b', visible: true, locked: false, opacity: 1, transform: T })
const doc: Composition = { width: 100, height: 100, assets: [], layers: [photo, obj('o1'), obj('o2')] }

function key(k: string, mods: { ctrl?: boolean; shift?: boolean; alt?: boolean; code?: string } = {}): KeyboardEvent {
  const code = mods.code ?? (/^[a-z]$/i.test(k) ? `Key${k.toUpperCase()}` : /^[0-9]$/.test(k) ? `Digit${k}` : k)
  return { key: k, code, ctrlKey: !!mods.ctrl, metaKey: false, shiftKey: !!mods.shift, altKey: !!mods.alt } as KeyboardEvent
}

describe('editor store: releasing images nothing uses any more', () => {
  const meta = (id: string): Composition['assets'][number] => ({ id, name: `${id}.png`, mime: 'image/png', width: 10, height: 10, hasAlpha: false, sha256: id.padEnd(64, '0') })
  const withAssets = (ids: string[]): Composition => ({ ...doc, assets: ids.map(meta) })

  it('keeps what undo or redo can still bring back, and releases what a new document or a new edit leaves behind', () => {
    const s = new EditorStore()
    const released: string[][] = []
    s.onUnreferenced = (ids) => released.push(ids)
    s.load(withAssets(['a', 'b']), 'd', null)
    // an edit drops b from the document: undo can still restore it, so nothing is released
    s.commit({ composition: withAssets(['a']) }, true)
    expect(released).toEqual([])
    // undo, then a different edit: the redo branch (which also lacked b) goes, but the saved doc keeps b
    s.undo()
    s.commit({ composition: withAssets(['a', 'b', 'c']) }, true)
    expect(released).toEqual([])
    s.undo()
    s.commit({ composition: withAssets(['a', 'b', 'd']) }, true) // c lived only in the dropped redo branch
    expect(released).toEqual([['c']])
    // a new document: everything of the old one that it does not use
    s.load(withAssets(['d', 'e']), 'e', null)
    expect(released[1].sort()).toEqual(['a', 'b'])
  })

  it('releases what only the oldest, trimmed undo step used', () => {
    const s = new EditorStore()
    const released: string[] = []
    s.onUnreferenced = (ids) => released.push(...ids)
    s.load(withAssets(['old']), 'd', null)
    s.markSaved('d', null)
    s.commit({ composition: withAssets(['new']) }, true)
    s.markSaved('d', null) // the saved version no longer holds 'old' either
    for (let i = 0; i < EditorStore.HISTORY_LIMIT - 1; i++) s.commit({ composition: withAssets(['new']) }, true)
    expect(released).toEqual([])
    s.commit({ composition: withAssets(['new']) }, true)
    expect(released).toEqual(['old'])
  })
})

describe('editor store: history', () => {
  it('records captured commits, one step each; undo/redo restore document and selection', () => {
    const s = new EditorStore()
    s.load(doc, 'd', null)
    expect(s.dirty).toBe(false)
    s.commit({ composition: updateTransform(doc, 'o1', { x: 50 }), selection: 'o1' }, true)
    s.commit({ composition: updateTransform(s.getState().composition, 'o1', { x: 60 }) }, true)
    expect(s.dirty).toBe(true)
    expect(s.getState().canUndo).toBe(true)
    s.undo()
    expect((s.getState().composition.layers[1] as Extract<Layer, { kind: 'object' }>).transform.x).toBe(50)
    s.undo()
    expect(s.getState().composition).toBe(doc)
    expect(s.getState().selection).toBe(null)
    expect(s.dirty).toBe(false) // back to the saved document
    s.redo()
    s.redo()
    expect((s.getState().composition.layers[1] as Extract<Layer, { kind: 'object' }>).transform.x).toBe(60)
    expect(s.getState().canRedo).toBe(false)
  })

  it('a non-captured change is not an undo step; a new edit clears redo', () => {
    const s = new EditorStore()
    s.load(doc, 'd', null)
    s.commit({ selection: 'o2' }, true)
    expect(s.getState().canUndo).toBe(false)
    s.commit({ composition: moveLayer(doc, 'o1', 1) }, true)
    s.undo()
    s.commit({ composition: removeLayer(doc, 'o2') }, true)
    expect(s.getState().canRedo).toBe(false)
  })

  it('layer helpers keep the photo at the bottom and remove linked shadows with their object', () => {
    expect(moveLayer(doc, 'o1', -5).layers.map((l) => l.id)).toEqual(['photo', 'o1', 'o2'])
    expect(moveLayer(doc, 'o1', 1).layers.map((l) => l.id)).toEqual(['photo', 'o2', 'o1'])
    expect(moveLayer(doc, 'photo', 1)).toBe(doc)
    const withShadow: Composition = { ...doc, layers: [photo, { kind: 'shadow', id: 's1', name: 's', objectId: 'o1', assetId: 'c', visible: true, locked: false, opacity: 1, blend: 'multiply', transform: T }, obj('o1')] }
    expect(removeLayer(withShadow, 'o1').layers.map((l) => l.id)).toEqual(['photo'])
  })
})

describe('actions registry', () => {
  it('every action has a unique name, a label and a capture policy', () => {
    const names = actions.map((a) => a.name)
    expect(new Set(names).size).toBe(names.length)
    for (const a of actions) {
      expect(a.label.length).toBeGreaterThan(0)
      expect(['always', 'never']).toContain(a.capture)
    }
    for (const n of ['openPhoto', 'insertObject', 'export', 'undo', 'redo', 'saveProject', 'zoomFit', 'zoom100', 'zoomIn', 'zoomOut']) expect(names).toContain(n)
  })

  it('maps keys to actions', () => {
    expect(actionForKey(key('z', { ctrl: true }))?.name).toBe('undo')
    expect(actionForKey(key('Z', { ctrl: true, shift: true }))?.name).toBe('redo')
    expect(actionForKey(key('y', { ctrl: true }))?.name).toBe('redo')
    expect(actionForKey(key('0', { ctrl: true }))?.name).toBe('zoomFit')
    expect(actionForKey(key('1', { ctrl: true }))?.name).toBe('zoom100')
    expect(actionForKey(key('=', { ctrl: true, code: 'Equal' }))?.name).toBe('zoomIn')
    expect(actionForKey(key('+', { ctrl: true, shift: true, code: 'Equal' }))?.name).toBe('zoomIn')
    expect(actionForKey(key('-', { ctrl: true, code: 'Minus' }))?.name).toBe('zoomOut')
    expect(actionForKey(key('Delete'))?.name).toBe('deleteLayer')
    expect(actionForKey(key('ArrowLeft', { shift: true }))?.name).toBe('nudgeLeftFar')
    expect(actionForKey(key('z'))).toBeUndefined()
    expect(matchShortcut('Shift+H', key('H', { shift: true }))).toBe(true)
    expect(matchShortcut('Shift+H', key('h'))).toBe(false)
  })

  it('runs actions with their capture policy and skips disabled ones', async () => {
    const s = new EditorStore()
    s.load(doc, 'd', null)
    s.set({ selection: 'o1' })
    const ctx = { store: s, api: {} as never, canvas: null, files: {} as never }
    await runAction('flipHorizontal', ctx)
    expect((s.getState().composition.layers[1] as Extract<Layer, { kind: 'object' }>).transform.flipX).toBe(true)
    expect(s.getState().canUndo).toBe(true)
    await runAction('undo', ctx)
    expect(s.getState().composition).toBe(doc)
    await runAction('undo', ctx) // disabled: nothing to undo
    expect(s.getState().composition).toBe(doc)
    await runAction('deleteLayer', ctx)
    expect(s.getState().composition.layers.map((l) => l.id)).toEqual(['photo', 'o2'])
    s.set({ selection: 'photo' })
    await runAction('deleteLayer', ctx) // the photo cannot be deleted this way
    expect(s.getState().composition.layers).toHaveLength(2)
  })
})
