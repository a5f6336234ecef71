/**
 * processes/…/PID/auxv: the raw auxiliary vector (pairs of u64 type, value,
 * ending in AT_NULL), as /proc/PID/auxv gives it, for OS kinds that read it.
 * The gdb stub serves it as qXfer:auxv:read so gdb can relocate a PIE.
 */
import { generatedLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export const processAuxvLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'auxv',
  appliesTo: (value) => value.process.auxv !== undefined,
  leaf: (object) => generatedLeaf({
    identity: `${object.identity}/auxv`,
    lifetime: object.lifetime,
    content: 'binary',
    generate: async () => (await object.value.process.auxv?.()) ?? new Uint8Array(),
  }),
}
