/**
 * Keyboard shortcuts as strings: "Mod+Shift+Z" (Mod = Ctrl, or Cmd on macOS), "Delete", "Shift+H".
 * The same strings label menu items and tooltips.
 */
export function matchShortcut(shortcut: string, e: KeyboardEvent): boolean {
  const parts = shortcut.split('+').map((p) => p.trim().toLowerCase())
  let key = parts.pop() ?? ''
  if (key === '' && shortcut.endsWith('+')) key = '+' // "Mod++"
  const mod = parts.includes('mod')
  const shift = parts.includes('shift')
  const alt = parts.includes('alt')
  if (mod !== (e.ctrlKey || e.metaKey)) return false
  if (alt !== e.altKey) return false
  const k = e.key.toLowerCase()
  // "+" and "=" share a key; "Mod+=" and "Mod++" both mean zoom in, with or without Shift.
  if (key === '=' || key === '+') return k === '=' || k === '+'
  if (key === '-') return k === '-' || k === '_'
  if (shift !== e.shiftKey) return false
  if (key === 'space') return e.code === 'Space'
  if (key.length === 1 && /[a-z0-9]/.test(key)) return e.code === (/[0-9]/.test(key) ? `Digit${key}` : `Key${key.toUpperCase()}`) || k === key
  return k === key || (key === 'delete' && k === 'del')
}

export function displayShortcut(shortcut: string): string {
  const mac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform)
  return shortcut.replace(/Mod/g, mac ? '⌘' : 'Ctrl')
}
