/**
 * The `remote` connector kind: `remote:PEER.CONNECTOR` (a connector of a
 * connected node, by its flattened name: b.dump, or b.c.dump two hops away)
 * or `remote:path=TREE/PATH` (any connector branch in this node's tree).
 * It needs this node's tree, so the peer layer registers one per node.
 * `os new g -c b.dump linux` makes one named 'b.dump' on its own.
 */
import { MemweaveError } from '../../errors/index.js'
import { ArgReader, validateName } from '../../tree/index.js'
import type { KindArgs, Tree } from '../../tree/index.js'
import type { Connector, ConnectorContext, ConnectorKind } from '../connector.js'
import { openRemoteConnector } from './remote-connector.js'

export const REMOTE_USAGE = 'remote:PEER.CONNECTOR (e.g. b.dump, b.c.dump) or remote:path=b/connector/dump'

/** 'b.c.dump' → 'b/connector/c.dump': the first name is our peer, the rest is that peer's own (flattened) name. */
export function remoteConnectorPath(dotted: string): string {
  const dot = dotted.indexOf('.')
  if (dot <= 0 || dot === dotted.length - 1) {
    throw new MemweaveError('connector', 'invalid_argument', `remote: '${dotted}' is not PEER.CONNECTOR (usage: ${REMOTE_USAGE})`)
  }
  for (const part of dotted.split('.')) validateName(part, `remote connector '${dotted}'`)
  return `${dotted.slice(0, dot)}/connector/${dotted.slice(dot + 1)}`
}

export function remoteConnectorKind(tree: Tree): ConnectorKind {
  return {
    kind: 'remote',
    usage: REMOTE_USAGE,
    create: async (args: KindArgs, context: ConnectorContext): Promise<Connector> => {
      const reader = new ArgReader(args, 'remote', ['path'])
      const path = reader.string('path')
      if ((path === undefined) === (reader.target === undefined)) {
        throw new MemweaveError('connector', 'invalid_argument', `remote: give PEER.CONNECTOR or path=…, not ${path === undefined ? 'neither' : 'both'} (usage: ${REMOTE_USAGE})`)
      }
      return openRemoteConnector(tree, path ?? remoteConnectorPath(reader.target ?? ''), context)
    },
  }
}
