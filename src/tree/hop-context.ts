/**
 * The hop chain a request or a change event carries, kept beside the code
 * that runs for it. A request that one node forwards to a peer carries
 * `via`: the ids of the nodes it already passed through. The protocol
 * server (net) runs each request inside runWithVia, so the peer branches
 * the tree reaches deep below (a flattened `os/` listing, a remote branch,
 * in node/peers/) can read currentVia() without the Tree API carrying it.
 * Change events get the same treatment: an event re-emitted from a peer
 * carries the nodes it came through, so it is never sent back to one of them.
 *
 * This file is only the carrier; it sits in the tree layer because both net
 * (below node) and node use it. The composition rules that read it (loops,
 * the hop limit, peer events) are in node/peers/hop-rules.ts.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { outsideClients } from './request-client.js'

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

/** The nodes a change event being delivered came through ([] for a change made here). */
export function currentEventVia(): readonly string[] {
  return eventHops.getStore() ?? []
}

/** Runs job (announcing a change) with the nodes the change came through. */
export function runWithEventVia<T>(via: readonly string[], job: () => T): T {
  return eventHops.run(via, job)
}
