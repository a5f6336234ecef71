/**
 * processes/…/PID/phys_maps: which physical pages back the process's
 * virtual ranges, one line per contiguous run (format in maps-format.ts and
 * the processes/readme leaf). Building it walks every page of every mapping
 * (hundreds of ms for a process with tens of GiB reserved), so listings do
 * not build it: its size is unknown until it is opened, and each open takes
 * one snapshot.
 */
import { readSnapshot } from '../../tree/index.js'
import type { LeafMapping, LeafMeta, OpenedLeaf } from '../../tree/index.js'
import { formatPhysMaps } from './maps-format.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export const processPhysMapsLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'phys_maps',
  leaf: (object) => ({
    type: 'leaf',
    identity: `${object.identity}/phys_maps`,
    lifetime: object.lifetime,
    meta: (): LeafMeta => ({ sizeBytes: undefined, readable: true, writable: false, rpc: false, content: 'text' }),
    open: async (): Promise<OpenedLeaf> => {
      const bytes = new TextEncoder().encode(formatPhysMaps(await object.value.process.physMaps()))
      return { sizeBytes: BigInt(bytes.length), read: async (pieces) => readSnapshot(bytes, pieces) }
    },
  }),
}
