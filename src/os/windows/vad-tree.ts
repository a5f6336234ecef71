/**
 * A process's VAD tree (Windows 8.1+ x64: an RTL_AVL_TREE of MMVAD_SHORT
 * nodes), read level by level, one batch per level:
 *
 *   +0x00 Left   +0x08 Right   (RTL_BALANCED_NODE; +0x10 parent and balance)
 *   +0x18 u32 StartingVpn      +0x1c u32 EndingVpn (inclusive)
 *   +0x20 u8 StartingVpnHigh   +0x21 u8 EndingVpnHigh
 *   +0x30 u32 VadFlags: VadType bits 4..6, Protection bits 7..11, PrivateMemory bit 20
 *
 * A node seen twice (a cycle), more nodes than the bound, or ranges that
 * overlap fail with an error naming the node.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex, virtAddr } from '../../mem/index.js'
import type { VirtualMemory } from '../../mem/index.js'
import { isKernelAddress } from './process-ring.js'

export interface VadEntry {
  readonly node: bigint
  readonly start: bigint
  /** Exclusive. */
  readonly end: bigint
  readonly protection: number
  readonly vadType: number
  readonly privateMemory: boolean
}

const NODE_BYTES = 0x38
export const MAX_VADS = 1 << 16
const MAX_DEPTH = 64

interface RawNode { left: bigint; right: bigint; entry: VadEntry }

function decode(node: bigint, data: Uint8Array): RawNode | undefined {
  if (data.length < NODE_BYTES) return undefined
  const v = new DataView(data.buffer, data.byteOffset, NODE_BYTES)
  const startVpn = BigInt(v.getUint32(0x18, true)) | (BigInt(v.getUint8(0x20)) << 32n)
  const endVpn = BigInt(v.getUint32(0x1c, true)) | (BigInt(v.getUint8(0x21)) << 32n)
  if (endVpn < startVpn) return undefined
  const flags = v.getUint32(0x30, true)
  return {
    left: v.getBigUint64(0, true),
    right: v.getBigUint64(8, true),
    entry: { node, start: startVpn << 12n, end: (endVpn + 1n) << 12n, vadType: (flags >>> 4) & 7, protection: (flags >>> 7) & 31, privateMemory: ((flags >>> 20) & 1) === 1 },
  }
}

/** Whether the tree at root has a VAD containing addr (a descent, no full walk). */
export async function vadContains(kmem: VirtualMemory, root: bigint, addr: bigint): Promise<boolean> {
  let node = root
  for (let depth = 0; depth < MAX_DEPTH && isKernelAddress(node); depth++) {
    const [r] = await kmem.read([{ addr: virtAddr(node), length: NODE_BYTES }])
    if (r === undefined || !r.ok) return false
    const n = decode(node, r.data)
    if (n === undefined) return false
    if (addr < n.entry.start) node = n.left
    else if (addr >= n.entry.end) node = n.right
    else return true
  }
  return false
}

/** Every VAD of the tree at root, sorted by address. */
export async function readVads(kmem: VirtualMemory, root: bigint, what: string): Promise<VadEntry[]> {
  const out: VadEntry[] = []
  const seen = new Set<bigint>()
  let level = root === 0n ? [] : [root]
  while (level.length > 0) {
    for (const node of level) {
      if (!isKernelAddress(node)) throw new MemweaveError('os', 'malformed', `${what}: VAD pointer ${hex(node)} is not a kernel address`)
      if (seen.has(node)) throw new MemweaveError('os', 'malformed', `${what}: VAD tree reaches node ${hex(node)} twice (a cycle)`)
      seen.add(node)
    }
    if (seen.size > MAX_VADS) throw new MemweaveError('os', 'limit', `${what}: more than ${MAX_VADS} VADs`)
    const results = await kmem.read(level.map((n) => ({ addr: virtAddr(n), length: NODE_BYTES })))
    const next: bigint[] = []
    level.forEach((node, i) => {
      const r = results[i]
      if (r === undefined || !r.ok) throw new MemweaveError('os', 'io', `${what}: cannot read VAD node ${hex(node)}`, { cause: r?.ok === false ? r.error : undefined })
      const n = decode(node, r.data)
      if (n === undefined) throw new MemweaveError('os', 'malformed', `${what}: VAD node ${hex(node)} ends before it starts`)
      out.push(n.entry)
      if (n.left !== 0n) next.push(n.left)
      if (n.right !== 0n) next.push(n.right)
    })
    level = next
  }
  out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.start < out[i - 1]!.end) throw new MemweaveError('os', 'malformed', `${what}: VADs at ${hex(out[i - 1]!.start)} and ${hex(out[i]!.start)} overlap`)
  }
  return out
}

const PROTECTION_PERMS = ['---', 'r--', '--x', 'r-x', 'rw-', 'rw-', 'rwx', 'rwx'] as const

/** 'r-xp' style permissions: low three protection bits; private memory and copy-on-write are 'p'. */
export function vadPerms(vad: VadEntry): string {
  const low = vad.protection & 7
  const copyOnWrite = low === 5 || low === 7
  return `${PROTECTION_PERMS[low]}${vad.privateMemory || copyOnWrite ? 'p' : 's'}`
}
