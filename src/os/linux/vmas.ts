/**
 * A process's mappings as /proc/PID/maps shows them (fs/proc/task_mmu.c
 * show_map_vma): the VMAs from the mm's maple tree, then per VMA its flags,
 * file offset, device and inode of the mapped file, and the name column:
 * the file's path; else the special mapping's name ([vdso], [vvar]); else
 * [heap] (overlaps start_brk..brk), [stack] (holds start_stack) or
 * [anon:NAME]. Reads are batched per step across all VMAs.
 */
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { MapEntry } from '../os-model.js'
import type { StructLayout, StructView } from './btf/index.js'
import { readStructs } from './btf/index.js'
import { isKernelAddress } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'
import { mapleEntries, MapleLayout } from './maple-tree.js'
import type { PathResolver } from './dentry-path.js'

/** vm_flags bits (include/linux/mm.h), part of the user-visible ABI of /proc/PID/maps. */
const VM_READ = 1n
const VM_WRITE = 2n
const VM_EXEC = 4n
const VM_SHARED = 8n
const PAGE_SHIFT = 12n
/** MAJOR/MINOR of the kernel's internal dev_t (MINORBITS = 20). */
const MINOR_BITS = 20n
const MINOR_MASK = (1n << MINOR_BITS) - 1n
const MAX_ANON_NAME_BYTES = 80

export interface MmFields {
  readonly mapleRoot: bigint
  readonly startBrk: bigint
  readonly brk: bigint
  readonly startStack: bigint
}

export class VmaLayouts {
  readonly maple: MapleLayout
  readonly vma: StructLayout
  readonly file: StructLayout
  readonly inode: StructLayout
  readonly superBlock: StructLayout
  readonly vmFlags: string
  readonly specialOps: readonly bigint[]

  constructor(kernel: KernelContext) {
    this.maple = new MapleLayout(kernel)
    this.vma = kernel.btf.struct('vm_area_struct')
    this.vmFlags = this.vma.firstField('vm_flags', '__vm_flags').path
    this.file = kernel.btf.struct('file')
    this.inode = kernel.btf.struct('inode')
    this.superBlock = kernel.btf.struct('super_block')
    // Only special_mapping_vmops has a .name (special_mapping_name); the legacy ops print no name.
    this.specialOps = [kernel.symbols.maybe('special_mapping_vmops')].filter((a): a is bigint => a !== undefined)
  }
}

function ok<T>(values: (T | MemweaveError)[], what: string): T[] {
  return values.map((v) => {
    if (v instanceof MemweaveError) throw new MemweaveError('os', 'malformed', `${what}: ${v.message}`, { cause: v })
    return v
  })
}

function perms(flags: bigint): string {
  return `${flags & VM_READ ? 'r' : '-'}${flags & VM_WRITE ? 'w' : '-'}${flags & VM_EXEC ? 'x' : '-'}${flags & VM_SHARED ? 's' : 'p'}`
}

function hex2(value: bigint): string {
  return value.toString(16).padStart(2, '0')
}

async function readCStrings(kernel: KernelContext, addrs: readonly bigint[], maxBytes: number): Promise<Map<bigint, string>> {
  const unique = [...new Set(addrs)].filter((a) => isKernelAddress(kernel, a))
  const results = await kernel.kmem.read(unique.map((a) => ({ addr: virtAddr(a), length: maxBytes })))
  const out = new Map<bigint, string>()
  results.forEach((result, i) => {
    const addr = unique[i]
    if (addr === undefined || !result.ok) return
    const end = result.data.indexOf(0)
    out.set(addr, Buffer.from(result.data.subarray(0, end < 0 ? result.data.length : end)).toString('utf8'))
  })
  return out
}

export async function readMaps(kernel: KernelContext, layouts: VmaLayouts, paths: PathResolver, mm: MmFields, what: string): Promise<MapEntry[]> {
  const vmaAddrs = await mapleEntries(kernel, layouts.maple, mm.mapleRoot, what)
  const vmas = ok(await readStructs(kernel.kmem, vmaAddrs.map((a) => virtAddr(a)), layouts.vma), `${what}: vm_area_struct`)
  const fileAddrs = [...new Set(vmas.map((v) => v.ptr('vm_file')).filter((f) => f !== 0n))]
  const files = new Map<bigint, StructView>()
  ok(await readStructs(kernel.kmem, fileAddrs.map((a) => virtAddr(a)), layouts.file), `${what}: struct file`).forEach((v, i) => files.set(fileAddrs[i] ?? 0n, v))
  const inodeAddrs = [...new Set([...files.values()].map((f) => f.ptr('f_inode')))]
  const inodes = new Map<bigint, StructView>()
  ok(await readStructs(kernel.kmem, inodeAddrs.map((a) => virtAddr(a)), layouts.inode), `${what}: struct inode`).forEach((v, i) => inodes.set(inodeAddrs[i] ?? 0n, v))
  const sbAddrs = [...new Set([...inodes.values()].map((i) => i.ptr('i_sb')))]
  const sbDev = new Map<bigint, bigint>()
  ok(await readStructs(kernel.kmem, sbAddrs.map((a) => virtAddr(a)), layouts.superBlock), `${what}: super_block`).forEach((v, i) => sbDev.set(sbAddrs[i] ?? 0n, v.uint('s_dev')))
  const fileList = [...files.entries()]
  const resolved = await paths.resolve(fileList.map(([, f]) => ({ dentry: f.ptr('f_path.dentry'), vfsmount: f.ptr('f_path.mnt') })))
  const pathOfFile = new Map<bigint, string>()
  fileList.forEach(([addr], i) => {
    const path = resolved[i]
    pathOfFile.set(addr, path instanceof MemweaveError || path === undefined ? '?' : path)
  })
  const special = vmas.filter((v) => v.ptr('vm_file') === 0n && layouts.specialOps.includes(v.ptr('vm_ops')))
  const specialNamePtrs = await readStructs(kernel.kmem, special.map((v) => virtAddr(v.ptr('vm_private_data'))), kernel.btf.struct('vm_special_mapping'))
  const specialNameAddr = new Map<bigint, bigint>()
  specialNamePtrs.forEach((view, i) => { if (!(view instanceof MemweaveError)) specialNameAddr.set(special[i]?.addr ?? 0n, view.ptr('name')) })
  const anonNameOffset = layouts.vma.has('anon_name') ? kernel.btf.struct('anon_vma_name').field('name').offsetBytes : undefined
  const anonNameAddr = new Map<bigint, bigint>()
  if (anonNameOffset !== undefined) {
    for (const v of vmas) {
      const ptr = v.ptr('anon_name')
      if (v.ptr('vm_file') === 0n && ptr !== 0n && !specialNameAddr.has(v.addr ?? 0n)) anonNameAddr.set(v.addr ?? 0n, ptr + BigInt(anonNameOffset))
    }
  }
  const strings = await readCStrings(kernel, [...specialNameAddr.values(), ...anonNameAddr.values()], MAX_ANON_NAME_BYTES)
  return vmas.map((v): MapEntry => {
    const start = v.u64('vm_start')
    const end = v.u64('vm_end')
    const flags = v.uint(layouts.vmFlags)
    const fileAddr = v.ptr('vm_file')
    const file = files.get(fileAddr)
    if (file !== undefined) {
      const inode = inodes.get(file.ptr('f_inode'))
      const dev = sbDev.get(inode?.ptr('i_sb') ?? 0n) ?? 0n
      return {
        start: virtAddr(start), end: virtAddr(end), perms: perms(flags), offset: v.u64('vm_pgoff') << PAGE_SHIFT,
        dev: `${hex2(dev >> MINOR_BITS)}:${hex2(dev & MINOR_MASK)}`, inode: inode?.u64('i_ino') ?? 0n, path: pathOfFile.get(fileAddr) ?? '?',
      }
    }
    const addr = v.addr ?? 0n
    let path = ''
    const specialName = specialNameAddr.get(addr)
    const anonName = anonNameAddr.get(addr)
    if (specialName !== undefined) path = strings.get(specialName) ?? ''
    else if (start <= mm.brk && end >= mm.startBrk) path = '[heap]'
    else if (start <= mm.startStack && end >= mm.startStack) path = '[stack]'
    else if (anonName !== undefined) path = `[anon:${strings.get(anonName) ?? ''}]`
    return { start: virtAddr(start), end: virtAddr(end), perms: perms(flags), offset: 0n, dev: '00:00', inode: 0n, path }
  })
}
