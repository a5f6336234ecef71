/**
 * The kinds a node can create: connector kinds (file, qemu, kcore, …) and
 * OS kinds (linux, native). The composition root fills these tables.
 */
import type { ConnectorKind } from '../connectors/index.js'
import { MemweaveError } from '../errors/index.js'
import type { OsKind } from '../os/index.js'

export class KindRegistry<K extends { readonly kind: string; readonly usage: string }> {
  private readonly kinds = new Map<string, K>()

  constructor(private readonly what: 'connector' | 'os') {}

  add(kind: K): void {
    if (this.kinds.has(kind.kind)) throw new MemweaveError('node', 'already_exists', `${this.what} kind '${kind.kind}' is registered twice`)
    this.kinds.set(kind.kind, kind)
  }

  get(name: string): K {
    const kind = this.kinds.get(name)
    if (kind === undefined) {
      throw new MemweaveError('node', 'invalid_argument', `unknown ${this.what} kind '${name}' (known: ${[...this.kinds.keys()].join(', ') || 'none'})`)
    }
    return kind
  }

  usage(): string[] {
    return [...this.kinds.values()].map((k) => k.usage)
  }

  names(): string[] {
    return [...this.kinds.keys()]
  }
}

export type ConnectorKinds = KindRegistry<ConnectorKind>
export type OsKinds = KindRegistry<OsKind>
