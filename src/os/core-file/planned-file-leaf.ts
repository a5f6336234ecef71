/**
 * A leaf holding a file built from process memory on demand (the ELF `core`,
 * the Windows `minidump`): its layout is planned when it is listed or opened,
 * so its size is known, and a plan younger than PLAN_REUSE_MS is reused (a
 * listing followed by an open plans once, and the sizes agree); the bytes
 * are read from the process memory as they are asked for, never built whole.
 */
import type { VirtualMemory } from '../../mem/index.js'
import type { Leaf, LeafMeta, OpenedLeaf } from '../../tree/index.js'
import type { CoreLayout } from './core-file-layout.js'
import { readCoreFile } from './core-file-reader.js'

const PLAN_REUSE_MS = 1000

function reusedPlans(plan: () => Promise<CoreLayout>): () => Promise<CoreLayout> {
  let last: { plan: Promise<CoreLayout>; at: number } | undefined
  return () => {
    if (last !== undefined && performance.now() - last.at < PLAN_REUSE_MS) return last.plan
    const planned = plan()
    const entry = { plan: planned, at: performance.now() }
    last = entry
    // A failed plan must not be reused.
    planned.catch(() => { if (last === entry) last = undefined })
    return planned
  }
}

export function plannedFileLeaf(identity: string, lifetime: Leaf['lifetime'], mem: VirtualMemory, plan: () => Promise<CoreLayout>): Leaf {
  const current = reusedPlans(plan)
  return {
    type: 'leaf',
    identity,
    lifetime,
    meta: async (): Promise<LeafMeta> => ({ sizeBytes: (await current()).totalBytes, readable: true, writable: false, rpc: false, content: 'binary' }),
    open: async (): Promise<OpenedLeaf> => {
      const layout = await current()
      return { sizeBytes: layout.totalBytes, read: (pieces) => readCoreFile(layout, mem, pieces) }
    },
  }
}
