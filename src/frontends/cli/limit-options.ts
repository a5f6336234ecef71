/**
 * `serve --memory-budget SIZE` and `--limit NAME=VALUE`: each name is a
 * server limit (net) or a node limit. The node's defaults are passed in by
 * serve, which loads the node layer on demand (a client command never does).
 */
import { quote } from '../../errors/index.js'
import { DEFAULT_SERVER_LIMITS } from '../../net/index.js'
import type { ServerLimits } from '../../net/index.js'
import { usageError } from './cli-errors.js'
import { parseBigNumber } from './numbers.js'

export function parseLimitOptions<NodeLimits extends object>(
  memoryBudget: string | undefined, given: readonly string[], nodeDefaults: NodeLimits,
): { server: Partial<ServerLimits>; node: Partial<NodeLimits> } {
  const server: Partial<ServerLimits> = {}
  const node: Partial<NodeLimits> = {}
  if (memoryBudget !== undefined) server.budgetBytes = Number(parseBigNumber(memoryBudget, '--memory-budget'))
  for (const text of given) {
    const eq = text.indexOf('=')
    const name = text.slice(0, eq)
    if (eq <= 0) throw usageError(`--limit ${quote(text)}: expected NAME=VALUE`)
    const value = Number(parseBigNumber(text.slice(eq + 1), `--limit ${name}`))
    if (Object.hasOwn(DEFAULT_SERVER_LIMITS, name)) server[name as keyof ServerLimits] = value
    else if (Object.hasOwn(nodeDefaults, name)) (node as Record<string, number>)[name] = value
    else throw usageError(`--limit: unknown limit ${quote(name)} (known: ${[...Object.keys(DEFAULT_SERVER_LIMITS), ...Object.keys(nodeDefaults)].join(', ')})`)
  }
  return { server, node }
}
