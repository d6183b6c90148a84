import { actionsByName } from '../editor/actions'
import { useEditor, useEditorState } from '../editor/context'
import { displayShortcut } from '../editor/shortcuts'
import { Icon } from './Icon'

/** A button bound to an action of the registry: label, shortcut in the tooltip, enabled state. */
export function ActionButton({ action, icon, testId, label, compact = false }: { action: string; icon?: string; testId?: string; label?: string; compact?: boolean }) {
  const { run } = useEditor()
  const state = useEditorState()
  const a = actionsByName.get(action)
  if (!a) return null
  const enabled = !a.enabled || a.enabled(state)
  const text = label ?? a.label.replace(/…$/, '')
  const title = a.shortcut ? `${a.label} (${displayShortcut(a.shortcut)})` : a.label
  return (
    <button type="button" className={compact ? 'btn icon-only' : 'btn'} data-testid={testId} title={title} aria-label={a.label} disabled={!enabled} onClick={() => run(action)}>
      {icon && <Icon name={icon} />}
      {!compact && <span>{text}</span>}
    </button>
  )
}
