const PATHS: Record<string, string> = {
  photo: 'M4 5h16a1 1 0 0 1 1 1v12a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1zm1 12h14l-4.5-6-3.5 4.5-2.5-3L5 17zM8.5 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z',
  object: 'M12 3l8 4.5v9L12 21l-8-4.5v-9L12 3zm0 2.3L6.2 8.5 12 11.7l5.8-3.2L12 5.3zM5.5 10v5.6l5.5 3.1v-5.6L5.5 10zm13 0L13 13.1v5.6l5.5-3.1V10z',
  folder: 'M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6z',
  save: 'M5 3h11l3 3v13a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm2 2v4h8V5H7zm5 8a3 3 0 1 0 0 6 3 3 0 0 0 0-6z',
  export: 'M12 3l5 5h-3v6h-4V8H7l5-5zM4 17h16v3H4v-3z',
  undo: 'M9 7V3L2 9l7 6v-4c5 0 8.5 1.5 11 5.5C19 11.5 15.5 7.5 9 7z',
  redo: 'M15 7V3l7 6-7 6v-4c-5 0-8.5 1.5-11 5.5C5 11.5 8.5 7.5 15 7z',
  eye: 'M12 5c5 0 9 4.5 10 7-1 2.5-5 7-10 7S3 14.5 2 12c1-2.5 5-7 10-7zm0 3a4 4 0 1 0 0 8 4 4 0 0 0 0-8zm0 2a2 2 0 1 1 0 4 2 2 0 0 1 0-4z',
  eyeOff: 'M3.3 2.3l18.4 18.4-1.4 1.4-3.4-3.4c-1.5.8-3.1 1.3-4.9 1.3-5 0-9-4.5-10-7 .6-1.5 2-3.6 4.1-5.1L1.9 3.7l1.4-1.4zM12 5c5 0 9 4.5 10 7-.4 1-1.2 2.3-2.3 3.5L16 11.8A4 4 0 0 0 12.2 8L9.4 5.3C10.2 5.1 11.1 5 12 5z',
  lock: 'M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h1zm2 0h6V7a3 3 0 0 0-6 0v3z',
  unlock: 'M7 10V7a5 5 0 0 1 9.9-1h-2.1A3 3 0 0 0 9 7v3h9a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h1z',
  up: 'M12 6l6 7H6l6-7z',
  down: 'M12 18l-6-7h12l-6 7z',
  trash: 'M9 3h6l1 2h4v2H4V5h4l1-2zM6 9h12l-1 12H7L6 9z',
  flipH: 'M11 3h2v18h-2V3zM9 7v10L3 17 9 7zm6 0l6 10h-6V7z',
  flipV: 'M3 11h18v2H3v-2zm4-2h10L17 3 7 9zm0 6h10l-10 6v-6z',
  copy: 'M8 8h11a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1zM4 3h11v3H6v9H3V4a1 1 0 0 1 1-1z',
  zoomIn: 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm-1 3v3H6v2h3v3h2v-3h3V9h-3V6H9z',
  zoomOut: 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zM6 9v2h8V9H6z',
  fit: 'M3 3h6v2H5v4H3V3zm12 0h6v6h-2V5h-4V3zM3 15h2v4h4v2H3v-6zm16 0h2v6h-6v-2h4v-4z',
  clock: 'M12 3a9 9 0 1 1 0 18 9 9 0 0 1 0-18zm-1 4v6l5 3 1-1.7-4-2.3V7h-2z',
  shadow: 'M10 2.5a6 6 0 1 1 0 12 6 6 0 0 1 0-12zM6 19.5c0-1.5 3.6-2.7 8-2.7s8 1.2 8 2.7-3.6 2.7-8 2.7-8-1.2-8-2.7z',
}

export function Icon({ name, size = 18 }: { name: keyof typeof PATHS | string; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" className="icon">
      <path d={PATHS[name] ?? ''} fill="currentColor" />
    </svg>
  )
}
