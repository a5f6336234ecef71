/**
 * Page-wide state as signals: the session (connecting, open with its
 * client, closed with the reason), the theme, and a short status line.
 */
import { signal } from '@preact/signals'
import type { PageClient } from './protocol.js'

export type Session =
  | { readonly state: 'connecting' }
  | { readonly state: 'no-ticket' }
  | { readonly state: 'open'; readonly client: PageClient }
  | { readonly state: 'closed'; readonly reason: string }

export const session = signal<Session>({ state: 'connecting' })

export type Theme = 'system' | 'light' | 'dark'
export const theme = signal<Theme>('system')

/** The open session's client; views render only under an open session. */
export function clientOf(): PageClient {
  const current = session.value
  if (current.state !== 'open') throw new Error('no open session')
  return current.client
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
