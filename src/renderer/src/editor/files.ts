import type { FileSource } from '../../../shared/api'
import type { Client } from '../../../shared/rpc'
import { refreshSettings, type ActionContext, type FileHost } from './actions'

/** Extensions offered by the browser's file picker for each kind. */
export const ACCEPT = {
  photo: 'image/jpeg,image/png,image/webp,.jpg,.jpeg,.png,.webp',
  object: 'image/png,image/webp,.png,.webp',
  project: '.umbra',
} as const

export async function fileToSource(file: File): Promise<FileSource> {
  return { type: 'bytes', name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) }
}

function download(bytes: Uint8Array, name: string, mime: string) {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: mime }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.style.display = 'none'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

function baseName(ctx: ActionContext): string {
  return (ctx.state.docName || 'untitled').replace(/[\\/:*?"<>|]+/g, '_')
}

/**
 * In a browser: files come in through the hidden file inputs the App renders
 * (data-testid file-input-photo / -object / -project) and go out as downloads.
 */
export interface BrowserFileHost extends FileHost {
  registerInput(kind: 'photo' | 'object' | 'project', el: HTMLInputElement | null): void
}

export function browserFileHost(): BrowserFileHost {
  const inputs: Record<'photo' | 'object' | 'project', HTMLInputElement | null> = { photo: null, object: null, project: null }
  return {
    registerInput(kind, el) {
      inputs[kind] = el
    },
    async pick(kind) {
      const input = inputs[kind]
      if (input) {
        input.value = ''
        input.click()
      }
      return null // the input's change event brings the files (App.onFiles)
    },
    async saveProject(ctx) {
      const { bytes } = await ctx.api.call('project.encode', { composition: ctx.state.composition })
      const name = `${baseName(ctx)}.umbra`
      download(bytes, name, 'application/octet-stream')
      ctx.store.markSaved(baseName(ctx), null)
      ctx.store.toast('info', `Saved ${name} (downloaded)`)
    },
    async exportImage(ctx, format, quality) {
      const out = await ctx.api.call('export.render', { composition: ctx.state.composition, options: { format, quality } })
      const name = `${baseName(ctx)}.${format === 'png' ? 'png' : 'jpg'}`
      download(out.bytes, name, out.mime)
      await ctx.api.call('settings.update', { preferences: { exportFormat: format, jpegQuality: quality } })
      ctx.store.toast('info', `Exported ${name}: ${out.width} x ${out.height} px`)
    },
  }
}

/** In Electron: native open and save dialogs (from the main process), files addressed by path. */
export function electronFileHost(api: Client): FileHost {
  return {
    async pick(kind, multiple) {
      const { paths } = await api.call('dialog.openFile', { kind, multiple })
      return paths.map((path) => ({ type: 'path' as const, path }))
    },
    async saveProject(ctx, saveAs) {
      let path = saveAs ? null : ctx.state.docPath
      if (!path) {
        const r = await ctx.api.call('dialog.saveFile', { kind: 'project', suggestedName: `${baseName(ctx)}.umbra` })
        path = r.path
      }
      if (!path) return
      const saved = await ctx.api.call('project.saveToPath', { composition: ctx.state.composition, path })
      ctx.store.markSaved(saved.name.replace(/\.umbra$/i, ''), saved.path)
      ctx.store.toast('info', `Saved ${saved.name}`)
      void refreshSettings(ctx.store, ctx.api)
    },
    async exportImage(ctx, format, quality) {
      const r = await ctx.api.call('dialog.saveFile', { kind: 'export', suggestedName: `${baseName(ctx)}.${format === 'png' ? 'png' : 'jpg'}`, format })
      if (!r.path) return
      const out = await ctx.api.call('export.toPath', { composition: ctx.state.composition, options: { format, quality }, path: r.path })
      ctx.store.toast('info', `Exported ${out.path}: ${out.width} x ${out.height} px`)
      void refreshSettings(ctx.store, ctx.api)
    },
  }
}
