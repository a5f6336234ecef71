/**
 * Exclusive holds on leaves: an owner (a client connection, a peer, a local
 * client) that opened a leaf with `exclusive` is its only user until it has
 * closed every reference it holds to it, or gone away.
 *
 *   exclusive open   refused while any other owner holds the leaf
 *   any other open   refused while someone holds it exclusively, naming the holder
 *
 * A leaf is named by its hold key: its identity, or for a leaf on a peer
 * (whose identity is new on every resolve) the peer and remote path, so two
 * local clients of the same remote leaf exclude each other here too. The
 * HandleTable reports every reference taken and given back.
 */
import { MemweaveError } from '../errors/index.js'

export class ExclusiveHolds {
  /** key → owner → references */
  private readonly refs = new Map<string, Map<string, number>>()
  /** key → the owner holding it exclusively */
  private readonly exclusive = new Map<string, string>()
  private readonly labels = new Map<string, string>()

  /** A readable name for an owner in refusals ("conn-3 (cli over unix)"). */
  label(owner: string, text: string | undefined): void {
    if (text === undefined) this.labels.delete(owner)
    else this.labels.set(owner, text)
  }

  private nameOf(owner: string): string {
    return this.labels.get(owner) ?? owner
  }

  holder(key: string): string | undefined {
    return this.exclusive.get(key)
  }

  /** Throws 'busy' when owner may not open key now (with exclusive, or at all). */
  check(key: string, owner: string, exclusive: boolean, path: string): void {
    const holder = this.exclusive.get(key)
    if (holder !== undefined && holder !== owner) {
      throw new MemweaveError('tree', 'busy', `'${path}' is held exclusively by ${this.nameOf(holder)}`)
    }
    if (!exclusive) return
    const others = [...(this.refs.get(key)?.keys() ?? [])].filter((o) => o !== owner)
    if (others.length > 0) {
      throw new MemweaveError('tree', 'busy', `'${path}' cannot be opened exclusively: it is open by ${others.map((o) => this.nameOf(o)).join(', ')}`)
    }
  }

  /** Records a reference taken (after check passed); exclusive makes owner the holder. */
  taken(key: string, owner: string, exclusive: boolean): void {
    let owners = this.refs.get(key)
    if (owners === undefined) { owners = new Map(); this.refs.set(key, owners) }
    owners.set(owner, (owners.get(owner) ?? 0) + 1)
    if (exclusive) this.exclusive.set(key, owner)
  }

  /** Records count references given back; the hold ends with the holder's last reference. */
  given(key: string, owner: string, count = 1): void {
    const owners = this.refs.get(key)
    if (owners === undefined) return
    const left = (owners.get(owner) ?? 0) - count
    if (left > 0) { owners.set(owner, left); return }
    owners.delete(owner)
    if (owners.size === 0) this.refs.delete(key)
    if (this.exclusive.get(key) === owner) this.exclusive.delete(key)
  }
}
