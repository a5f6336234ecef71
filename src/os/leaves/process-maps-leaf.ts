/**
 * processes/…/PID/maps: the memory mappings in exactly the text format of
 * Linux's /proc/PID/maps (see maps-format.ts).
 */
import { generatedLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { formatMaps } from './maps-format.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'

export const processMapsLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'maps',
  leaf: (object) => generatedLeaf({
    identity: `${object.identity}/maps`,
    lifetime: object.lifetime,
    generate: async () => formatMaps(await object.value.process.maps()),
  }),
}
