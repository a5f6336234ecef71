/**
 * The link `memweave web` prints: the daemon's page with a one-time ticket
 * in the fragment (`#ticket=…`), which browsers keep to themselves (never
 * sent in a request, never in a Referer); and opening it where a desktop
 * browser exists. The link is printed to the terminal only, never logged.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export function browserUrl(page: string, ticket: string, view?: string): string {
  const base = page.endsWith('/') ? page : `${page}/`
  const route = view === undefined || view === '' ? '' : `&${view.startsWith('/') ? view : `/${view}`}`
  return `${base}#ticket=${ticket}${route}`
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, program)))
}

/** Opens the URL with $BROWSER or xdg-open when a display exists; says why not otherwise. */
export function openInBrowser(url: string): { opened: true } | { opened: false; reason: string } {
  const display = (process.env.DISPLAY ?? '') !== '' || (process.env.WAYLAND_DISPLAY ?? '') !== ''
  const configured = process.env.BROWSER
  const program = configured !== undefined && configured !== '' ? configured : display && onPath('xdg-open') ? 'xdg-open' : undefined
  if (program === undefined) return { opened: false, reason: 'no display or browser here' }
  try {
    const child = spawn(program, [url], { detached: true, stdio: 'ignore' })
    // A failed launch only means the user opens the printed link themselves.
    child.on('error', (err) => process.stderr.write(`memweave: could not start ${program}: ${err.message}\n`))
    child.unref()
    return { opened: true }
  } catch (err) {
    return { opened: false, reason: err instanceof Error ? err.message : String(err) }
  }
}
