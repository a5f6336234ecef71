/**
 * os/NAME/info: what the OS kind reports about itself (kernel version, arch,
 * …), with the node's facts about it (name, kind, connector, open time).
 */
import { jsonLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { OS_OBJECT } from '../os-objects.js'
import type { NamedOs } from '../os-objects.js'

export const osInfoLeaf: LeafMapping<NamedOs> = {
  on: OS_OBJECT,
  name: 'info',
  leaf: (object) => jsonLeaf(`${object.identity}/info`, object.lifetime, async () => {
    const facts = await object.value.os.info()
    // The node's facts come last: the tree name wins over anything the kind calls itself.
    return {
      ...facts,
      name: object.value.name,
      kind: object.value.kind,
      connector: object.value.connectorName ?? null,
      openMs: Math.round(object.value.openMs),
    }
  }),
}
