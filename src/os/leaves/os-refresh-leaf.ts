/**
 * os/NAME/refresh: a control leaf that drops the OS's cached listings
 * (processes, modules, translations), for live sources whose caches would
 * otherwise only expire on their own. Write any line, or call it by rpc.
 */
import { controlLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import { OS_OBJECT } from '../os-objects.js'
import type { NamedOs } from '../os-objects.js'

export const osRefreshLeaf: LeafMapping<NamedOs> = {
  on: OS_OBJECT,
  name: 'refresh',
  leaf: (object) => controlLeaf({
    identity: `${object.identity}/refresh`,
    lifetime: object.lifetime,
    usage: `write any line (e.g. echo 1 > refresh) to drop os '${object.value.name}' cached listings and translations`,
    run: async () => {
      object.value.os.refresh()
      return `os '${object.value.name}' refreshed`
    },
  }),
}
