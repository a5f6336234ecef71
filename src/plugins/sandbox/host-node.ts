/**
 * What the plugin host needs of a node, as a structural interface: the
 * composition root (src/node) satisfies it, and plugins never import it.
 */
import type { Logger } from 'pino'
import type { NamedConnector } from '../../connectors/index.js'
import type { NamedOs } from '../../os/index.js'
import type { Lifetime, Tree, TreeNode } from '../../tree/index.js'

export interface PluginHostNode {
  readonly tree: Tree
  readonly log: Logger
  readonly lifetime: Lifetime
  readonly options: { readonly allowWrite: boolean }
  /** sys/ leaves the host adds (sys/plugins). */
  readonly extraSys: Map<string, TreeNode>
  readonly store: {
    readonly connectors: ReadonlyMap<string, NamedConnector>
    readonly oses: ReadonlyMap<string, NamedOs>
  }
}
