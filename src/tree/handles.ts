/**
 * The handle table. `open` turns a resolved leaf into a numeric handle;
 * reads, writes and RPCs take handles. A leaf already open and unchanged
 * (same identity, lifetime not ended) gets the same handle with its count
 * raised. References are counted per owner (a client connection or peer),
 * so an owner that goes away drops exactly its references.
 */
import { MemweaveError } from '../errors/index.js'
import { ExclusiveHolds } from './exclusive-holds.js'
import type { Leaf, LeafMeta, OpenedLeaf } from './tree-node.js'

export interface HandleEntry {
  readonly handle: number
  readonly path: string
  readonly identity: string
  readonly leaf: Leaf
  readonly opened: OpenedLeaf
  readonly meta: LeafMeta
  /** owner → reference count */
  readonly refs: Map<string, number>
  readonly openedAt: number
  /** Names the leaf for exclusive holds (identity, or peer and remote path for a remote leaf). */
  readonly holdKey: string
}

export interface HandleSummary {
  handle: number
  path: string
  identity: string
  refs: Record<string, number>
  /** Peer handles a remote leaf forwards to, nearest first (empty for local leaves). */
  chain: string[]
  stale: boolean
  openedAt: string
  /** The owner holding the leaf exclusively, if any. */
  exclusive?: string
}

export const MAX_HANDLES = 65536

export class HandleTable {
  private readonly byHandle = new Map<number, HandleEntry>()
  private readonly byIdentity = new Map<string, HandleEntry>()
  private readonly opening = new Map<string, Promise<HandleEntry>>()
  /** owner → how many distinct handles it holds references on (per-client caps read this). */
  private readonly owned = new Map<string, number>()
  private nextHandle = 1
  /** Who holds which leaf, and who holds one exclusively (exclusive-holds.ts). */
  readonly holds = new ExclusiveHolds()

  /**
   * Opens (or shares) the handle for a leaf on behalf of owner. The reference
   * is taken in the same turn as the lookup: a staleness check is awaited with
   * it held, so another owner's close cannot release the entry in between
   * (it used to, and the next read failed with "handle N is not open").
   */
  async open(path: string, leaf: Leaf, owner: string, options: { readonly exclusive?: boolean } = {}): Promise<HandleEntry> {
    const exclusive = options.exclusive === true
    const key = leaf.holdKey ?? leaf.identity
    this.holds.check(key, owner, exclusive, path)
    for (;;) {
      const existing = this.byIdentity.get(leaf.identity)
      if (existing !== undefined) {
        this.holds.check(key, owner, exclusive, path)
        this.addRef(existing, owner, exclusive)
        if ((await existing.leaf.lifetime.staleReason()) === undefined) return existing
        // Stale: give the reference back; a new open gets a new handle.
        if (this.byIdentity.get(leaf.identity) === existing) this.byIdentity.delete(leaf.identity)
        await this.unref(existing, owner)
        continue
      }
      if (this.byHandle.size >= MAX_HANDLES) throw new MemweaveError('tree', 'limit', `too many open handles (${MAX_HANDLES})`)
      // Two concurrent opens of the same leaf must share one handle, not race to make two.
      let pending = this.opening.get(leaf.identity)
      if (pending === undefined) {
        pending = this.create(path, leaf, exclusive).finally(() => this.opening.delete(leaf.identity))
        this.opening.set(leaf.identity, pending)
      }
      const entry = await pending
      // Between creation and this turn another owner may have shared and closed it: then open afresh.
      if (this.byHandle.get(entry.handle) !== entry) continue
      // Checked again: another owner may have taken the leaf while it was being opened.
      this.holds.check(key, owner, exclusive, path)
      this.addRef(entry, owner, exclusive)
      return entry
    }
  }

  private async create(path: string, leaf: Leaf, exclusive: boolean): Promise<HandleEntry> {
    await leaf.lifetime.ensureAlive()
    const [opened, meta] = await Promise.all([leaf.open({ exclusive }), leaf.meta()])
    const entry: HandleEntry = {
      handle: this.nextHandle++,
      path,
      identity: leaf.identity,
      leaf,
      opened,
      meta,
      refs: new Map(),
      openedAt: Date.now(),
      holdKey: leaf.holdKey ?? leaf.identity,
    }
    this.byHandle.set(entry.handle, entry)
    this.byIdentity.set(entry.identity, entry)
    return entry
  }

  /** The entry for a handle the owner holds; throws not_found or stale. */
  async get(handle: number, owner: string): Promise<HandleEntry> {
    const entry = this.byHandle.get(handle)
    if (entry === undefined || !entry.refs.has(owner)) {
      throw new MemweaveError('tree', 'not_found', `handle ${handle} is not open`)
    }
    const reason = await entry.leaf.lifetime.staleReason()
    if (reason !== undefined) {
      throw new MemweaveError('tree', 'stale', `stale handle ${handle} (${entry.path}): ${entry.leaf.lifetime.description} ${reason}`)
    }
    return entry
  }

  /** Lowers owner's count on handle; at zero for everyone, the leaf is closed. */
  async close(handle: number, owner: string): Promise<void> {
    const entry = this.byHandle.get(handle)
    if (entry === undefined || !entry.refs.has(owner)) throw new MemweaveError('tree', 'not_found', `handle ${handle} is not open`)
    await this.unref(entry, owner)
  }

  private async unref(entry: HandleEntry, owner: string): Promise<void> {
    const count = entry.refs.get(owner) ?? 0
    if (count > 1) entry.refs.set(owner, count - 1)
    else if (entry.refs.delete(owner)) this.disown(owner)
    if (count > 0) this.holds.given(entry.holdKey, owner)
    if (entry.refs.size === 0) await this.release(entry)
  }

  /** Drops every reference an owner holds (its connection closed). */
  async dropOwner(owner: string): Promise<number> {
    let dropped = 0
    for (const entry of this.byHandle.values()) {
      const count = entry.refs.get(owner)
      if (count === undefined || !entry.refs.delete(owner)) continue
      this.disown(owner)
      this.holds.given(entry.holdKey, owner, count)
      dropped++
      if (entry.refs.size === 0) await this.release(entry)
    }
    return dropped
  }

  private async release(entry: HandleEntry): Promise<void> {
    if (this.byHandle.get(entry.handle) !== entry) return // already released by a concurrent close
    this.byHandle.delete(entry.handle)
    if (this.byIdentity.get(entry.identity) === entry) this.byIdentity.delete(entry.identity)
    await entry.opened.close?.()
  }

  /** Whether owner still holds a reference on handle (no staleness check). */
  isHeldBy(handle: number, owner: string): boolean {
    return this.byHandle.get(handle)?.refs.has(owner) === true
  }

  /** Open handles whose identity starts with prefix (e.g. everything on one connector). */
  openUnder(identityPrefix: string): HandleEntry[] {
    return [...this.byHandle.values()].filter((e) => e.identity === identityPrefix || e.identity.startsWith(`${identityPrefix}/`))
  }

  summaries(): HandleSummary[] {
    return [...this.byHandle.values()].map((e) => ({
      handle: e.handle,
      path: e.path,
      identity: e.identity,
      refs: Object.fromEntries(e.refs),
      chain: [...(e.opened.chain ?? [])],
      stale: e.leaf.lifetime.ended,
      openedAt: new Date(e.openedAt).toISOString(),
      ...(this.holds.holder(e.holdKey) === undefined ? {} : { exclusive: this.holds.holder(e.holdKey) }),
    }))
  }

  /** Distinct handles owner holds. */
  ownedBy(owner: string): number {
    return this.owned.get(owner) ?? 0
  }

  private disown(owner: string): void {
    const left = this.ownedBy(owner) - 1
    if (left > 0) this.owned.set(owner, left)
    else this.owned.delete(owner)
  }

  private addRef(entry: HandleEntry, owner: string, exclusive: boolean): void {
    if (!entry.refs.has(owner)) this.owned.set(owner, this.ownedBy(owner) + 1)
    addRefCount(entry, owner)
    this.holds.taken(entry.holdKey, owner, exclusive)
  }

  get size(): number {
    return this.byHandle.size
  }
}

function addRefCount(entry: HandleEntry, owner: string): void {
  entry.refs.set(owner, (entry.refs.get(owner) ?? 0) + 1)
}
