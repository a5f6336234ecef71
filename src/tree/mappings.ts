/**
 * The mapping registry: features attach named leaves or branches to a class
 * of object (connector, os, process, module) without the object knowing.
 * ("Class", not "kind": a kind is what creates a connector or OS, e.g. the
 * `file` connector kind; a connector object's class is CONNECTOR_OBJECT.)
 * A mapping may carry a filter; listing an object's branch shows exactly the
 * mappings that apply to it. Built-ins and plugins register the same way.
 */
import { MemweaveError } from '../errors/index.js'
import { entryOf } from './branches.js'
import type { Lifetime } from './lifetime.js'
import type { Branch, Entry, Leaf, TreeNode } from './tree-node.js'

/** A class of objects, typed by what its mappings receive. Compare by name. */
export interface ObjectClass<T> {
  readonly name: string
  /** Phantom: carries T for type inference only; never set. A method so classes stay assignable both ways. */
  sample?(value: T): void
}

export function objectClass<T>(name: string): ObjectClass<T> {
  return { name }
}

/** What a mapping receives: the object, a stable identity for handles, and its lifetime. */
export interface TreeObject<T> {
  readonly class: ObjectClass<T>
  readonly value: T
  /** Unique per object instance (e.g. 'os:g/pid:42@1234'); leaf identities extend it. */
  readonly identity: string
  readonly lifetime: Lifetime
}

interface MappingBase<T> {
  readonly on: ObjectClass<T>
  readonly name: string
  /** Who registered it ('builtin', or a plugin's name): shown in listings of sys/. */
  readonly owner?: string
  appliesTo?(value: T): boolean
}

export interface LeafMapping<T> extends MappingBase<T> {
  /** `registry` lets a feature show sub-objects (a process's modules) as object branches of their own. */
  leaf(object: TreeObject<T>, registry: MappingRegistry): Leaf
}

export interface BranchMapping<T> extends MappingBase<T> {
  branch(object: TreeObject<T>, registry: MappingRegistry): Branch
}

export type Mapping<T> = LeafMapping<T> | BranchMapping<T>

function isLeafMapping<T>(mapping: Mapping<T>): mapping is LeafMapping<T> {
  return 'leaf' in mapping
}

export function nodeFor<T>(mapping: Mapping<T>, object: TreeObject<T>, registry: MappingRegistry): TreeNode {
  return isLeafMapping(mapping) ? mapping.leaf(object, registry) : mapping.branch(object, registry)
}

/** A mapping whose filter threw: which one, whose (a plugin's name, or 'builtin'), and what it threw. */
export interface FilterFailure {
  /** The name of the object class it is registered on. */
  readonly objectClass: string
  readonly name: string
  readonly owner: string
  readonly error: unknown
}

export class MappingRegistry {
  private readonly byClass = new Map<string, Mapping<unknown>[]>()
  private readonly listeners = new Set<(objectClass: string) => void>()
  /** Mappings whose filter already threw once: reported once, not on every listing. */
  private readonly reported = new WeakSet<Mapping<unknown>>()

  /** onFilterError hears about the first throw of each mapping's filter (the node logs it). */
  constructor(private readonly onFilterError?: (failure: FilterFailure) => void) {}

  /** Registers a mapping; a duplicate name on the same object class throws. Returns the unregister function. */
  add<T>(mapping: Mapping<T>): () => void {
    const list = this.byClass.get(mapping.on.name) ?? []
    if (list.some((m) => m.name === mapping.name)) {
      throw new MemweaveError('tree', 'already_exists', `a mapping named '${mapping.name}' is already registered on ${mapping.on.name}`)
    }
    if (mapping.name.length === 0 || mapping.name.includes('/')) {
      throw new MemweaveError('tree', 'invalid_argument', `mapping name '${mapping.name}' must be non-empty and contain no '/'`)
    }
    list.push(mapping)
    this.byClass.set(mapping.on.name, list)
    this.changed(mapping.on.name)
    return () => {
      const current = this.byClass.get(mapping.on.name) ?? []
      this.byClass.set(mapping.on.name, current.filter((m) => m !== mapping))
      this.changed(mapping.on.name)
    }
  }

  /** The mappings that apply to this object, in registration order. */
  applicable<T>(of: ObjectClass<T>, value: T): Mapping<T>[] {
    const list = (this.byClass.get(of.name) ?? []).filter((m): m is Mapping<T> => isMappingOf(m, of))
    return list.filter((m) => m.appliesTo === undefined || this.safeApplies(m, value))
  }

  /** For sys/mappings: `kind` is the object class's name (the field keeps its published name). */
  all(): { kind: string; name: string; owner: string }[] {
    return [...this.byClass].flatMap(([name, list]) => list.map((m) => ({ kind: name, name: m.name, owner: m.owner ?? 'builtin' })))
  }

  onChange(listener: (objectClass: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private changed(objectClass: string): void {
    for (const listener of this.listeners) listener(objectClass)
  }

  private safeApplies<T>(mapping: Mapping<T>, value: T): boolean {
    try {
      return mapping.appliesTo?.(value) ?? true
    } catch (error) {
      // A throwing filter (buggy plugin) hides its mapping rather than breaking the listing; said once per mapping.
      if (!this.reported.has(mapping as Mapping<unknown>)) {
        this.reported.add(mapping as Mapping<unknown>)
        this.onFilterError?.({ objectClass: mapping.on.name, name: mapping.name, owner: mapping.owner ?? 'builtin', error })
      }
      return false
    }
  }

  /** A branch showing an object: its mappings, plus fixed children the owner provides. */
  objectBranch<T>(object: TreeObject<T>, fixed: ReadonlyMap<string, TreeNode> = new Map()): Branch {
    const nodes = (): Map<string, TreeNode> => {
      const out = new Map(fixed)
      for (const mapping of this.applicable(object.class, object.value)) {
        if (!out.has(mapping.name)) out.set(mapping.name, nodeFor(mapping, object, this))
      }
      return out
    }
    return {
      type: 'branch',
      lifetime: object.lifetime,
      list: async (): Promise<Entry[]> => {
        const entries = await Promise.allSettled([...nodes()].map(([name, node]) => entryOf(name, node)))
        // A mapping whose metadata fails (e.g. a plugin that crashed) still lists, without metadata.
        return entries.map((e, i) => (e.status === 'fulfilled' ? e.value : { name: [...nodes().keys()][i] ?? '?', type: 'leaf' as const }))
      },
      get: async (name) => {
        if (fixed.has(name)) return fixed.get(name)
        const mapping = this.applicable(object.class, object.value).find((m) => m.name === name)
        return mapping === undefined ? undefined : nodeFor(mapping, object, this)
      },
    }
  }
}

/** Registered under the class's name, so its object type is the class's. */
function isMappingOf<T>(mapping: Mapping<unknown>, of: ObjectClass<T>): mapping is Mapping<T> {
  return mapping.on.name === of.name
}
