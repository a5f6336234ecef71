/**
 * The composition rules of hop chains (docs/architecture.md §6). The chains
 * themselves ride in the tree layer's hop context (tree/hop-context.ts),
 * which the protocol server fills for each request; here is what this node
 * does with them when it forwards a request or re-emits a peer's event:
 *
 *   - forwarding appends this node's id: via' = [...via, self]
 *   - a node refuses a request whose via already holds its id (a loop)
 *   - flattened listings skip peers whose node id is in via (or is self)
 *   - an event is not sent to a client whose own chain shares a node with the event's via
 *     (A↔B cycles would echo forever)
 */
import { MemweaveError } from '../../errors/index.js'
import { currentVia, runWithEventVia } from '../../tree/index.js'
import type { ChangeBus } from '../../tree/index.js'

/** Longest chain accepted; deeper compositions are refused rather than followed. */
export const MAX_HOPS = 16

/** The chain to send with a request this node forwards; throws when it would loop or grow too long. */
export function forwardVia(self: string, target: string | undefined, what: string): string[] {
  const via = currentVia()
  if (target !== undefined && (target === self || via.includes(target))) {
    throw new MemweaveError('node', 'invalid_argument', `${what}: composition loop (node ${target} is already in this request's chain)`)
  }
  if (via.length >= MAX_HOPS) throw new MemweaveError('node', 'limit', `${what}: more than ${MAX_HOPS} hops`)
  return [...via, self]
}

/** Announces a change that came from a peer, remembering the nodes it came through. */
export function notifyFromPeer(bus: ChangeBus, path: string, via: readonly string[]): void {
  runWithEventVia(via, () => bus.notify(path))
}
