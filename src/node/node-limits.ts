/**
 * The node's caps on what clients can make it hold: connectors, OSs, peers
 * and user plugins in all, and objects any one client created. Past a cap a
 * creation is refused with a 'limit' error that names the cap and how to
 * raise it (`serve --limit NAME=VALUE`); nothing is created half-way.
 */
import { MemweaveError } from '../errors/index.js'

export interface NodeLimits {
  maxConnectors: number
  maxOses: number
  maxPeers: number
  maxPlugins: number
  /** Connectors and OSs one client connection may have created that still exist. */
  maxObjectsPerClient: number
}

export const DEFAULT_NODE_LIMITS: Readonly<NodeLimits> = {
  maxConnectors: 1024,
  maxOses: 256,
  maxPeers: 64,
  maxPlugins: 64,
  maxObjectsPerClient: 256,
}

export function resolveNodeLimits(limits: Partial<NodeLimits> | undefined): NodeLimits {
  const resolved: NodeLimits = { ...DEFAULT_NODE_LIMITS, ...limits }
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new MemweaveError('config', 'invalid_argument', `node limit ${name} must be a positive integer, got ${value}`)
  }
  return resolved
}

/** Throws the 'limit' error for a cap that is reached. */
export function checkCap(count: number, cap: number, name: keyof NodeLimits, what: string): void {
  if (count >= cap) {
    throw new MemweaveError('node', 'limit', `${what} (${cap}, the cap; remove some, or raise it with serve --limit ${name}=N)`)
  }
}
