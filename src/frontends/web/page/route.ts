/**
 * The address bar holds the view: `#/PATH` opens a branch or leaf,
 * `#/PATH@ADDRESS` a mem leaf's hex view at ADDRESS (hex, or `module+0xOFF`
 * for a process). A first visit carries `#ticket=T` (optionally `&/PATH…`):
 * the ticket is taken out and the address bar rewritten before anything
 * else runs, so it is in no history entry, bookmark or copied link.
 */
import { signal } from '@preact/signals'

export interface Route {
  /** Tree path without leading slash ('' for the root). */
  readonly path: string
  /** The hex view's address expression, as written (`0x7f…`, `libc.so.6+0x10`, `[heap]`). */
  readonly at?: string
}

export function parseRoute(hash: string): Route {
  const body = decodeURIComponent(hash.replace(/^#\/?/, ''))
  const at = body.lastIndexOf('@')
  if (at < 0) return { path: trimSlashes(body) }
  return { path: trimSlashes(body.slice(0, at)), at: body.slice(at + 1) }
}

export function formatRoute(route: Route): string {
  const path = route.path.split('/').filter((s) => s !== '').map((s) => encodeURIComponent(s)).join('/')
  return `#/${path}${route.at === undefined ? '' : `@${encodeURIComponent(route.at)}`}`
}

function trimSlashes(path: string): string {
  return path.split('/').filter((s) => s !== '').join('/')
}

/** Takes the ticket out of the fragment (and the address bar); the rest of the fragment is the first view. */
export function takeTicket(): string | undefined {
  const hash = window.location.hash
  const match = /^#ticket=([0-9a-f]{16,128})(?:&(.*))?$/i.exec(hash)
  if (match === null) return undefined
  const rest = match[2] ?? '/'
  window.history.replaceState(null, '', `${window.location.pathname}#${rest.startsWith('/') ? rest : `/${rest}`}`)
  return match[1]
}

export const route = signal<Route>(parseRoute(window.location.hash))

window.addEventListener('hashchange', () => { route.value = parseRoute(window.location.hash) })

/** When the last navigation was asked for (performance.now() scale): views time what follows from it (the hex view's fill). */
export const lastNavigation = { at: 0 }

/**
 * The open view's head start on a navigation (the hex view reads the new screen): called with the route before
 * anything renders it, so the view's data is already on its way when the view renders.
 */
export const navigationHints = { ahead: undefined as ((next: Route) => void) | undefined }

/** `askedAt`: the user's event that asked for it (its timeStamp), when there is one. */
export function navigate(next: Route, replace = false, askedAt = performance.now()): void {
  lastNavigation.at = askedAt
  navigationHints.ahead?.(next)
  const hash = formatRoute(next)
  if (replace) window.history.replaceState(null, '', hash)
  else window.history.pushState(null, '', hash)
  route.value = parseRoute(hash)
}

/** The parent path of a tree path. */
export function parentPath(path: string): string {
  const parts = path.split('/').filter((s) => s !== '')
  parts.pop()
  return parts.join('/')
}

export function joinTreePath(...parts: string[]): string {
  return parts.flatMap((p) => p.split('/')).filter((s) => s !== '').join('/')
}
