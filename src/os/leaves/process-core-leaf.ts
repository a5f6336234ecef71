/**
 * processes/…/PID/core: an ELF core file of the process, loadable by gdb.
 * Its layout (headers, notes, which mappings have data) is planned when it
 * is listed or opened, so its size is known; the bytes are read from the
 * process memory as they are asked for, never built whole.
 */
import type { LeafMapping, Leaf, LeafMeta, OpenedLeaf } from '../../tree/index.js'
import { planCoreFile } from '../core-file/core-file-layout.js'
import type { CoreLayout } from '../core-file/core-file-layout.js'
import { readCoreFile } from '../core-file/core-file-reader.js'
import type { OsProcess } from '../os-model.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

/** A plan younger than this is reused, so a listing followed by an open plans once and sizes agree. */
const PLAN_REUSE_MS = 1000

function planner(process: OsProcess): () => Promise<CoreLayout> {
  let last: { plan: Promise<CoreLayout>; at: number } | undefined
  return () => {
    if (last !== undefined && performance.now() - last.at < PLAN_REUSE_MS) return last.plan
    const plan = planCoreFile(process)
    const entry = { plan, at: performance.now() }
    last = entry
    // A failed plan must not be reused.
    plan.catch(() => { if (last === entry) last = undefined })
    return plan
  }
}

export function coreLeaf(identity: string, process: OsProcess, lifetime: Leaf['lifetime']): Leaf {
  const plan = planner(process)
  return {
    type: 'leaf',
    identity,
    lifetime,
    meta: async (): Promise<LeafMeta> => ({ sizeBytes: (await plan()).totalBytes, readable: true, writable: false, rpc: false, content: 'binary' }),
    open: async (): Promise<OpenedLeaf> => {
      const layout = await plan()
      return { sizeBytes: layout.totalBytes, read: (pieces) => readCoreFile(layout, process.mem, pieces) }
    },
  }
}

export const processCoreLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'core',
  leaf: (object) => coreLeaf(`${object.identity}/core`, object.value.process, object.lifetime),
}
