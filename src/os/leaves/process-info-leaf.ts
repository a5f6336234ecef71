/**
 * processes/…/PID/info: JSON of the process (pid, ppid, name, path,
 * cmdline, state, uid, threads, dtb, arch, start time).
 */
import { jsonLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export const processInfoLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'info',
  leaf: (object) => jsonLeaf(`${object.identity}/info`, object.lifetime, async () => {
    const info = await object.value.process.info()
    // Unknown values show as null rather than vanishing from the JSON.
    return { ...info, path: info.path ?? null, dtb: info.dtb ?? null }
  }),
}
