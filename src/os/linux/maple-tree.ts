/**
 * Walking a maple tree (mm->mm_mt, Linux 6.1+) to the entries of its leaves,
 * in index order. An encoded node pointer ("enode") carries the node type in
 * bits 3..6; the node itself is the pointer with the low 8 bits cleared.
 * ma_root holds a node when its low two bits are 2 (MAPLE_ROOT_NODE) and it
 * is above 4096, otherwise a single entry; every slot of an internal node is
 * an enode. maple_range_64
 * (internal) and maple_leaf_64 nodes share one layout; maple_arange_64
 * (internal, with gaps) has fewer slots. A node's used slot count comes from
 * its pivots or its metadata, as ma_data_end() computes it. Types, array
 * lengths and offsets all come from BTF. The walk reads one level per batch
 * and is bounded (visited set, node limit, depth limit).
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { FieldLayout } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'

const NODE_MASK = 0xffn
const TYPE_SHIFT = 3n
const TYPE_MASK = 0xfn
const MAX_DEPTH = 32
export const MAX_MAPLE_NODES = 1 << 16
const ULONG_MAX = (1n << 64n) - 1n

interface NodeKind {
  readonly pivots: FieldLayout
  readonly slots: FieldLayout
  readonly pivotCount: number
  readonly slotCount: number
  readonly metaEnd: FieldLayout
}

export class MapleLayout {
  readonly nodeBytes: number
  readonly leaf: bigint
  readonly range: bigint
  readonly arange: bigint
  readonly dense: bigint
  readonly range64: NodeKind
  readonly arange64: NodeKind

  constructor(kernel: KernelContext) {
    const btf = kernel.btf
    this.nodeBytes = btf.struct('maple_node').sizeBytes
    this.dense = btf.enumValue('maple_type', 'maple_dense')
    this.leaf = btf.enumValue('maple_type', 'maple_leaf_64')
    this.range = btf.enumValue('maple_type', 'maple_range_64')
    this.arange = btf.enumValue('maple_type', 'maple_arange_64')
    this.range64 = nodeKind(kernel, 'maple_range_64')
    this.arange64 = nodeKind(kernel, 'maple_arange_64')
  }
}

function nodeKind(kernel: KernelContext, name: string): NodeKind {
  const layout = kernel.btf.struct(name)
  const pivots = layout.field('pivot')
  const slots = layout.field('slot')
  const count = (f: FieldLayout): number => (f.type.kind === 'array' ? f.type.count : 0)
  return { pivots, slots, pivotCount: count(pivots), slotCount: count(slots), metaEnd: layout.field('meta.end') }
}

interface Pending { readonly enode: bigint; readonly min: bigint; readonly max: bigint }

export function isMapleNode(entry: bigint): boolean {
  return (entry & 3n) === 2n && entry > 4096n
}

/** The leaf entries (e.g. vm_area_struct pointers) of the tree whose ma_root is `root`, in index order. */
export async function mapleEntries(kernel: KernelContext, layout: MapleLayout, root: bigint, what: string): Promise<bigint[]> {
  if (root === 0n) return []
  if (!isMapleNode(root)) return (root & 3n) === 0n ? [root] : []
  const visited = new Set<bigint>()
  let level: Pending[] = [{ enode: root, min: 0n, max: ULONG_MAX }]
  const entries: bigint[] = []
  for (let depth = 0; level.length > 0; depth++) {
    if (depth >= MAX_DEPTH) throw new MemweaveError('os', 'malformed', `${what}: maple tree deeper than ${MAX_DEPTH} levels (corrupt?)`)
    const nodes = level.map((p) => p.enode & ~NODE_MASK)
    for (const node of nodes) {
      if (!isKernelPointer(kernel, node)) throw new MemweaveError('os', 'malformed', `${what}: maple node pointer ${hex(node)} is not a kernel address`)
      if (visited.has(node)) throw new MemweaveError('os', 'malformed', `${what}: maple node ${hex(node)} reached twice (cycle)`)
      visited.add(node)
    }
    if (visited.size > MAX_MAPLE_NODES) throw new MemweaveError('os', 'limit', `${what}: maple tree has more than ${MAX_MAPLE_NODES} nodes`)
    const results = await kernel.kmem.read(nodes.map((n) => ({ addr: virtAddr(n), length: layout.nodeBytes })))
    const next: Pending[] = []
    level.forEach((pending, i) => {
      const result = results[i]
      if (result === undefined || !result.ok) {
        throw new MemweaveError('os', 'malformed', `${what}: cannot read maple node ${hex(nodes[i] ?? 0n)}`, { cause: result?.ok === false ? result.error : undefined })
      }
      visitNode(layout, pending, new DataView(result.data.buffer, result.data.byteOffset, result.data.byteLength), entries, next, what)
    })
    level = next
  }
  return entries
}

function visitNode(layout: MapleLayout, pending: Pending, view: DataView, entries: bigint[], next: Pending[], what: string): void {
  const type = (pending.enode >> TYPE_SHIFT) & TYPE_MASK
  const kind = type === layout.arange ? layout.arange64 : type === layout.range || type === layout.leaf ? layout.range64 : undefined
  if (kind === undefined) {
    throw new MemweaveError('os', 'unsupported', `${what}: maple node ${hex(pending.enode)} has type ${type} (only leaf/range/arange 64 are walked)`)
  }
  const pivot = (i: number): bigint => view.getBigUint64(kind.pivots.offsetBytes + i * 8, true)
  const slot = (i: number): bigint => view.getBigUint64(kind.slots.offsetBytes + i * 8, true)
  const end = dataEnd(layout, kind, type, view, pivot, pending.max)
  const isLeaf = type === layout.leaf
  let min = pending.min
  for (let i = 0; i <= end; i++) {
    const max = i < end && i < kind.pivotCount ? pivot(i) : pending.max
    const entry = slot(i)
    if (isLeaf) {
      if (entry !== 0n && (entry & 3n) === 0n) entries.push(entry)
    } else if (entry !== 0n) {
      next.push({ enode: entry, min, max })
    }
    if (max >= pending.max) break
    min = max + 1n
  }
}

/** Index of the last used slot (ma_data_end). */
function dataEnd(layout: MapleLayout, kind: NodeKind, type: bigint, view: DataView, pivot: (i: number) => bigint, max: bigint): number {
  const metaEnd = (): number => Math.min(view.getUint8(kind.metaEnd.offsetBytes), kind.slotCount - 1)
  if (type === layout.arange) return metaEnd()
  const last = kind.pivotCount - 1
  const lastPivot = pivot(last)
  if (lastPivot === 0n) return metaEnd()
  if (lastPivot === max) return last
  return kind.pivotCount
}
