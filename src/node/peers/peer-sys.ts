/**
 * sys/peers/: `add` (write "NAME URL [token-file=F] [fingerprint=SHA256]
 * [ca=F]", or an RPC with {name, url, token?, …}), `rm` (write "NAME") and
 * `list` (JSON: each peer's state, last error, latency, traffic). The RPC
 * object form is how the CLI passes a token; it is never recorded in the
 * leaf's history.
 */
import { controlLeaf, jsonLeaf, staticBranch } from '../../tree/index.js'
import type { Branch, Leaf, Lifetime, OpenedLeaf } from '../../tree/index.js'
import type { PeerStatus } from './peer-connection.js'
import { parsePeerLine, peerSpecFromRpc } from './peer-spec.js'
import type { PeerSpec } from './peer-spec.js'

export interface PeerControl {
  /** `fromClient`: the spec came over the protocol, so its files must lie under the allowed roots. */
  add(spec: PeerSpec, wait?: boolean, fromClient?: boolean): Promise<string>
  remove(name: string): Promise<string>
  list(): PeerStatus[]
  readonly nodeId: string
}

const ADD_USAGE = `write a line: NAME URL [token-file=FILE] [fingerprint=SHA256] [ca=FILE]
  URL: unix:/path.sock, ws://HOST:PORT or wss://HOST:PORT (TLS: pin the peer's certificate
  with fingerprint=, printed by its 'memweave serve', or trust a CA with ca=)
or call it with {name, url, token?, tokenFile?, fingerprint?, caFile?}`

export function peersSysBranch(control: PeerControl, lifetime: Lifetime): Branch {
  const add = withObjectRpc(controlLeaf({
    identity: 'control:sys/peers/add', lifetime, usage: ADD_USAGE,
    run: (line) => control.add(parsePeerLine(line), true, true),
  }), (request) => control.add(peerSpecFromRpc(request), true, true))
  const rm = controlLeaf({
    identity: 'control:sys/peers/rm', lifetime, usage: 'write a line: NAME   (disconnects and forgets the peer)',
    run: (line) => control.remove(line.trim()),
  })
  const list = jsonLeaf('sys:peers/list', lifetime, () => control.list())
  const self = jsonLeaf('sys:peers/self', lifetime, () => ({ nodeId: control.nodeId }))
  return staticBranch({ add, rm, list, self })
}

/** A control leaf whose RPC also takes an object (kept out of the line history, where a token must not go). */
function withObjectRpc(leaf: Leaf, handle: (request: object) => Promise<string>): Leaf {
  return {
    ...leaf,
    open: async (): Promise<OpenedLeaf> => {
      const opened = await leaf.open()
      return {
        ...opened,
        rpc: async (request: unknown) => (typeof request === 'object' && request !== null ? handle(request) : opened.rpc?.(request)),
      }
    },
  }
}
