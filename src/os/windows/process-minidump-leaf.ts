/**
 * processes/…/PID/minidump: a Windows user-mode minidump of the process
 * (minidump-layout.ts), for Windows processes only. Like `core`, its layout
 * is planned when listed or opened, and the memory is read as it is asked for.
 */
import type { Leaf, LeafMapping, LeafMeta, OpenedLeaf } from '../../tree/index.js'
import type { CoreLayout } from '../core-file/core-file-layout.js'
import { readCoreFile } from '../core-file/core-file-reader.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'
import { planMinidump } from './minidump-layout.js'

const PLAN_REUSE_MS = 1000

function planner(object: ProcessObject): () => Promise<CoreLayout> {
  let last: { plan: Promise<CoreLayout>; at: number } | undefined
  return () => {
    if (last !== undefined && performance.now() - last.at < PLAN_REUSE_MS) return last.plan
    const plan = (async () => {
      const info = await object.os.info()
      const build = typeof info['build'] === 'number' ? info['build'] : 0
      const arch = typeof info['arch'] === 'string' ? info['arch'] : 'x86_64'
      return planMinidump(object.process, { arch, build, majorVersion: 10, minorVersion: 0 })
    })()
    const entry = { plan, at: performance.now() }
    last = entry
    plan.catch(() => { if (last === entry) last = undefined })
    return plan
  }
}

function minidumpLeaf(identity: string, object: ProcessObject, lifetime: Leaf['lifetime']): Leaf {
  const plan = planner(object)
  return {
    type: 'leaf',
    identity,
    lifetime,
    meta: async (): Promise<LeafMeta> => ({ sizeBytes: (await plan()).totalBytes, readable: true, writable: false, rpc: false, content: 'binary' }),
    open: async (): Promise<OpenedLeaf> => {
      const layout = await plan()
      return { sizeBytes: layout.totalBytes, read: (pieces) => readCoreFile(layout, object.process.mem, pieces) }
    },
  }
}

export const processMinidumpLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'minidump',
  appliesTo: (value) => value.osKind === 'windows',
  leaf: (object) => minidumpLeaf(`${object.identity}/minidump`, object.value, object.lifetime),
}
