/**
 * The address bar holds the view: `#/PATH` opens a branch or leaf,
 * `#/PATH@ADDRESS` a mem leaf's hex view at ADDRESS (hex, or `module+0xOFF`
 * for a process). A first visit carries `#ticket=T` (optionally `&/PATH…`):
 * the ticket is taken out and the address bar rewritten before anything
 * else runs, so it is in no history entry, bookmark or copied link.
 */
import { signal } from '@preact/signals'
import { afterNextPaint } from './timing.js'

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

/** The one-time ticket in a first visit's fragment (`#ticket=T`, optionally `&/PATH…`), if there is one. */
export function ticketIn(hash: string): { ticket: string; rest: string } | undefined {
  const match = /^#ticket=([0-9a-f]{16,128})(?:&(.*))?$/i.exec(hash)
  if (match === null || match[1] === undefined) return undefined
  return { ticket: match[1], rest: match[2] ?? '/' }
}

/** Takes the ticket out of the fragment (and the address bar); the rest of the fragment is the first view. */
export function takeTicket(): string | undefined {
  const found = ticketIn(window.location.hash)
  if (found === undefined) return undefined
  window.history.replaceState(null, '', `${window.location.pathname}#${found.rest.startsWith('/') ? found.rest : `/${found.rest}`}`)
  return found.ticket
}

export const route = signal<Route>(parseRoute(window.location.hash))

/** Navigations so far: a route held back for its data (below) is applied only if no later one came meanwhile. */
let navigations = 0

window.addEventListener('hashchange', () => { navigations++; route.value = parseRoute(window.location.hash) })

/** When the last navigation was asked for (performance.now() scale): views time what follows from it (the hex view's fill). */
export const lastNavigation = { at: 0 }

/**
 * The open view's head start on a navigation (the hex view reads the new screen): called with the route before
 * anything renders it, so the view's data is already on its way. It may give back that data's arrival: the route
 * then changes when the data is there (at most HOLD_FOR_DATA_MS later), so the move is rendered once, with its
 * data, and the main thread is free for the reply meanwhile (the last view stays on screen, as it would anyway).
 * The arrival may bring the view's own state change for the move (its placement), made in the same turn as the
 * route's, so that one render shows both.
 */
export const navigationHints = { ahead: undefined as ((next: Route) => Promise<(() => void) | undefined> | undefined) | undefined }

/** The longest a navigation's route waits for the data its view asked ahead (then it renders without it). */
export const HOLD_FOR_DATA_MS = 150

/** `askedAt`: the user's event that asked for it (its timeStamp), when there is one. */
export function navigate(next: Route, replace = false, askedAt = performance.now()): void {
  lastNavigation.at = askedAt
  const turn = ++navigations
  const ready = navigationHints.ahead?.(next)
  const hash = formatRoute(next)
  // A navigation overtaken by a later one changes nothing. One held for its data changes the address bar just after
  // the frame that shows it (a history entry is milliseconds of this thread and work for the browser process, which
  // a 2-core machine shares with the WebSocket's: not while the read is under way, nor before the view is painted).
  let applied = false
  const apply = (place?: () => void): void => {
    if (applied) return
    applied = true
    clearTimeout(timer)
    if (turn !== navigations) return
    const record = (): void => {
      if (replace) window.history.replaceState(null, '', hash)
      else window.history.pushState(null, '', hash)
    }
    if (ready === undefined) record()
    place?.()
    route.value = parseRoute(hash)
    if (ready !== undefined) afterNextPaint(() => { if (turn === navigations) record() })
  }
  const timer = ready === undefined ? undefined : setTimeout(() => apply(), HOLD_FOR_DATA_MS)
  if (ready === undefined) apply()
  else void ready.then((place) => apply(place), () => apply())
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
