/**
 * Ready-made branches: a fixed set of children, and a dynamic branch whose
 * children a function lists and looks up on every call (names are resolved
 * afresh each time, as docs/architecture.md §3 requires).
 */
import type { Lifetime } from './lifetime.js'
import type { Branch, Entry, Leaf, TreeNode } from './tree-node.js'

export async function entryOf(name: string, node: TreeNode): Promise<Entry> {
  if (node.type === 'branch') return { name, type: 'branch' }
  return { name, type: 'leaf', meta: await (node as Leaf).meta() }
}

/** Children given by a function returning name → node (evaluated per call). */
export function dynamicBranch(
  children: () => Promise<ReadonlyMap<string, TreeNode>> | ReadonlyMap<string, TreeNode>,
  lifetime?: Lifetime,
): Branch {
  return {
    type: 'branch',
    lifetime,
    list: async () => {
      const map = await children()
      return Promise.all([...map].map(([name, node]) => entryOf(name, node)))
    },
    get: async (name) => (await children()).get(name),
  }
}

/** A branch with separate list and lookup, for large or lazily found children (processes by pid). */
export function lookupBranch(options: {
  lifetime?: Lifetime
  names: () => Promise<string[]>
  lookup: (name: string) => Promise<TreeNode | undefined>
}): Branch {
  return {
    type: 'branch',
    lifetime: options.lifetime,
    list: async () => {
      const names = await options.names()
      const entries = await Promise.all(names.map(async (name) => {
        const node = await options.lookup(name)
        return node === undefined ? undefined : node.type === 'branch' ? { name, type: 'branch' as const } : entryOf(name, node)
      }))
      return entries.filter((e): e is Entry => e !== undefined)
    },
    get: options.lookup,
  }
}

export function staticBranch(children: Record<string, TreeNode>, lifetime?: Lifetime): Branch {
  const map = new Map(Object.entries(children))
  return dynamicBranch(() => map, lifetime)
}

/** Merges several branches' children into one listing; the first holder of a name wins. */
export function mergedBranch(parts: readonly Branch[], lifetime?: Lifetime): Branch {
  return {
    type: 'branch',
    lifetime,
    list: async () => {
      const seen = new Set<string>()
      const out: Entry[] = []
      for (const part of parts) {
        for (const entry of await part.list()) {
          if (seen.has(entry.name)) continue
          seen.add(entry.name)
          out.push(entry)
        }
      }
      return out
    },
    get: async (name) => {
      for (const part of parts) {
        const node = await part.get(name)
        if (node !== undefined) return node
      }
      return undefined
    },
  }
}
