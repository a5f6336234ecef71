/**
 * The tree under connector/NAME/: `mem` (physical memory) and `info`, as
 * mappings on the connector object class so plugins can add more.
 */
import { jsonLeaf, memLeaf, objectClass } from '../tree/index.js'
import type { LeafMapping, ObjectClass } from '../tree/index.js'
import type { Connector } from './connector.js'

export interface NamedConnector {
  readonly name: string
  readonly kind: string
  readonly connector: Connector
}

export const CONNECTOR_OBJECT: ObjectClass<NamedConnector> = objectClass<NamedConnector>('connector')

export const connectorMemLeaf: LeafMapping<NamedConnector> = {
  on: CONNECTOR_OBJECT,
  name: 'mem',
  leaf: (object) => memLeaf({ identity: `${object.identity}/mem`, lifetime: object.lifetime, mem: object.value.connector.mem }),
}

export const connectorInfoLeaf: LeafMapping<NamedConnector> = {
  on: CONNECTOR_OBJECT,
  name: 'info',
  leaf: (object) => jsonLeaf(`${object.identity}/info`, object.lifetime, async () => ({
    name: object.value.name,
    ...(await object.value.connector.info()),
  })),
}

export const CONNECTOR_MAPPINGS = [connectorMemLeaf, connectorInfoLeaf] as const
