/**
 * Hop chains for composed nodes. A request that one node forwards to a peer
 * carries `via`: the ids of the nodes it already passed through. The
 * protocol server runs each request inside runWithVia, so tree code deep
 * below (a flattened `os/` listing, a remote branch) can read currentVia()
 * without the Tree API carrying it. Change events get the same treatment:
 * an event re-emitted from a peer carries the nodes it came through, so it
 * is never sent back to one of them (A↔B cycles would echo forever).
 *
 * Rules (ARCHITECTURE.md §5):
 *   - forwarding appends this node's id: via' = [...via, self]
 *   - a node refuses a request whose via already holds its id (a loop)
 *   - flattened listings skip peers whose node id is in via (or is self)
 *   - an event is not sent to a client whose own chain shares a node with the event's via
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { MemweaveError } from '../errors/index.js'
import type { ChangeBus } from './change-bus.js'
import { outsideClients } from './request-client.js'

/** Longest chain accepted; deeper compositions are refused rather than followed. */
export const MAX_HOPS = 16

const requestHops = new AsyncLocalStorage<readonly string[]>()
const eventHops = new AsyncLocalStorage<readonly string[]>()

/** The nodes the request being served already passed through ([] for a local client). */
export function currentVia(): readonly string[] {
  return requestHops.getStore() ?? []
}

export function runWithVia<T>(via: readonly string[] | undefined, job: () => T): T {
  return requestHops.run(via ?? [], job)
}

/**
 * Runs job outside any request, so what it starts (a peer's connection and
 * its socket callbacks) does not inherit the hop chain of the request that
 * happened to start it.
 */
export function outsideRequests<T>(job: () => T): T {
  return requestHops.exit(() => eventHops.exit(() => outsideClients(job)))
}

/** The chain to send with a request this node forwards; throws when it would loop or grow too long. */
export function forwardVia(self: string, target: string | undefined, what: string): string[] {
  const via = currentVia()
  if (target !== undefined && (target === self || via.includes(target))) {
    throw new MemweaveError('node', 'invalid_argument', `${what}: composition loop (node ${target} is already in this request's chain)`)
  }
  if (via.length >= MAX_HOPS) throw new MemweaveError('node', 'limit', `${what}: more than ${MAX_HOPS} hops`)
  return [...via, self]
}

/** The nodes a change event being delivered came through ([] for a change made here). */
export function currentEventVia(): readonly string[] {
  return eventHops.getStore() ?? []
}

/** Announces a change that came from a peer, remembering the nodes it came through. */
export function notifyFromPeer(bus: ChangeBus, path: string, via: readonly string[]): void {
  eventHops.run(via, () => bus.notify(path))
}
