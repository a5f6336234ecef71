/**
 * Test helper: a small Windows 10 (build 19041, x64) system built in
 * physical memory, with everything the `windows` OS kind reads and nothing
 * else — and the ground truth of what was placed:
 *
 *   low 1 MiB   an x64 low stub (PROCESSOR_START_BLOCK) naming the kernel PML4 (optional)
 *   PML4        kernel tables with a self-referencing entry (index 0x1ed)
 *   ntoskrnl    a PE image at 0xfffff80000400000: .text, PAGE, .edata, .data, INIT;
 *               exports PsActiveProcessHead, PsLoadedModuleList, PsInitialSystemProcess,
 *               NtBuildNumber; a KDBG block in .data, plain or encoded (optional)
 *   pool        EPROCESS ring (System, Registry, smss.exe, notepad.exe, paged.exe),
 *               MMVAD_SHORT trees, the driver list (KLDR entries)
 *   user        per process: own PML4 (kernel half shared), images with 'MZ',
 *               PEB, PEB_LDR_DATA and LDR entries, process parameters, a heap
 *               holding a pattern, a region partly paged out
 *
 * EPROCESS offsets are those of build 19041; the OS must find them itself.
 */
import { BuiltMemory, PAGE } from './built-memory.js'
import { bswap, rol } from './kdbg-encoded.js'

export const EP = { dtb: 0x28, pid: 0x440, links: 0x448, parent: 0x540, peb: 0x550, name: 0x5a8, vadRoot: 0x7d8, size: 0xa40 } as const
export const KERNEL_BASE = 0xfffff80000400000n
const POOL_BASE = 0xffffa08000000000n
const SELF_REF_INDEX = 0x1ed
const RVA = { text: 0x1000, page: 0x2000, edata: 0x3000, data: 0x4000, init: 0x6000, size: 0x7000 } as const
const DATA = { processHead: 0x4000, moduleList: 0x4010, initialSystem: 0x4020, buildNumber: 0x4028, kdbg: 0x4100 } as const

export interface BuiltModule { readonly name: string; readonly base: bigint; readonly sizeBytes: bigint; readonly path: string }
export interface BuiltVad { readonly start: bigint; readonly end: bigint; readonly perms: string }
export interface BuiltProcess {
  readonly pid: number
  readonly ppid: number
  readonly name: string
  readonly eprocess: bigint
  readonly dtb: bigint
  readonly kernelOnly: boolean
  readonly modules: readonly BuiltModule[]
  readonly vads: readonly BuiltVad[]
  readonly path: string | undefined
  readonly cmdline: readonly string[]
  /** Bytes placed in the heap; read them back through mem. */
  readonly pattern: { readonly addr: bigint; readonly bytes: Uint8Array } | undefined
  /** A page of a mapped region whose PTE is not present (paged out). */
  readonly pagedOut: bigint | undefined
  /** A page present in the tables whose frame a container may leave out (see missingFrames). */
  readonly droppable: { readonly virt: bigint; readonly frame: number } | undefined
}

export interface BuiltWindows {
  readonly memory: BuiltMemory
  readonly kernelDtb: number
  readonly processes: readonly BuiltProcess[]
  readonly drivers: readonly BuiltModule[]
  readonly kdbg: bigint | undefined
  readonly processHead: bigint
  readonly moduleList: bigint
}

export interface WindowsImageOptions {
  readonly lowStub?: boolean
  /** A KDBG block in .data: plain, or encoded in place as live Windows 10+ keeps it (random keys). */
  readonly kdbg?: boolean | 'encoded'
  /** The last process's Flink goes back to the second process, never to the head. */
  readonly cyclic?: boolean
  /** Leave PsInitialSystemProcess out of the exports (System's EPROCESS is then found from the list alone). */
  readonly hideInitialSystemProcess?: boolean
  readonly seed?: number
}

function utf16(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf16le'))
}

function ascii(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(`${text}\0`, 'latin1'))
}

function u64(value: bigint): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, value, true)
  return b
}

function u32(value: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, value >>> 0, true)
  return b
}

function seeded(seed: number): (n: number) => Uint8Array {
  let x = seed || 0x12345
  return (n) => Uint8Array.from({ length: n }, () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x & 0xff })
}

/** A virtual space of one address-space root, with writes that go through the kit's own mapping. */
class Space {
  private readonly physOf = new Map<bigint, number>()
  constructor(readonly memory: BuiltMemory, readonly pml4: number, private readonly user: boolean) {}

  mapNew(virt: bigint, flags: { writable?: boolean; executable?: boolean } = {}): number {
    const frame = this.memory.allocFrame()
    this.memory.map(this.pml4, virt, frame, { ...flags, user: this.user })
    this.physOf.set(virt, frame)
    return frame
  }

  write(virt: bigint, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length;) {
      const at = virt + BigInt(i)
      const page = at - (at % BigInt(PAGE))
      const frame = this.physOf.get(page) ?? this.mapNew(page, { writable: true })
      const off = Number(at - page)
      const n = Math.min(PAGE - off, bytes.length - i)
      this.memory.writePhys(frame + off, bytes.subarray(i, i + n))
      i += n
    }
  }

  frameOf(virt: bigint): number | undefined {
    return this.physOf.get(virt - (virt % BigInt(PAGE)))
  }
}

/** A bump allocator in a space: 16-byte aligned chunks, pages mapped on first use. */
class Heap {
  private next: bigint
  constructor(private readonly space: Space, base: bigint) { this.next = base }
  alloc(bytes: number | Uint8Array): bigint {
    const data = typeof bytes === 'number' ? new Uint8Array(bytes) : bytes
    const at = this.next
    this.space.write(at, data)
    this.next += BigInt((data.length + 15) & ~15)
    return at
  }
  /** A UNICODE_STRING (16 bytes) with its buffer; returns the string's bytes to embed. */
  unicode(text: string): Uint8Array {
    const buffer = this.alloc(utf16(`${text}\0`))
    const s = new Uint8Array(16)
    const v = new DataView(s.buffer)
    v.setUint16(0, text.length * 2, true)
    v.setUint16(2, text.length * 2 + 2, true)
    v.setBigUint64(8, buffer, true)
    return s
  }
}

function peHeaderPage(exportsRva: number, exportsSize: number): Uint8Array {
  const page = new Uint8Array(PAGE)
  const v = new DataView(page.buffer)
  page[0] = 0x4d; page[1] = 0x5a
  v.setUint32(0x3c, 0x100, true)
  const pe = 0x100
  v.setUint32(pe, 0x4550, true)
  v.setUint16(pe + 4, 0x8664, true)
  const sections = [['.text', RVA.text, 0x1000, 0x60000020], ['PAGE', RVA.page, 0x1000, 0x60000020], ['.edata', RVA.edata, 0x1000, 0x40000040],
    ['.data', RVA.data, 0x2000, 0xc0000040], ['INIT', RVA.init, 0x1000, 0x62000020]] as const
  v.setUint16(pe + 6, sections.length, true)
  v.setUint32(pe + 8, 0x5f3a1b2c, true)
  v.setUint16(pe + 20, 0xf0, true)
  const opt = pe + 24
  v.setUint16(opt, 0x20b, true)
  v.setUint32(opt + 56, RVA.size, true)
  v.setUint32(opt + 108, 16, true)
  v.setUint32(opt + 112, exportsRva, true)
  v.setUint32(opt + 116, exportsSize, true)
  sections.forEach(([name, rva, size, flags], i) => {
    const s = opt + 0xf0 + i * 40
    page.set(new Uint8Array(Buffer.from(name, 'latin1')), s)
    v.setUint32(s + 8, size, true)
    v.setUint32(s + 12, rva, true)
    v.setUint32(s + 16, size, true)
    v.setUint32(s + 36, flags, true)
  })
  return page
}

/** The .edata page: directory, function/name/ordinal tables and names, all at RVA.edata. */
function exportPage(exports: readonly (readonly [string, number])[]): Uint8Array {
  const page = new Uint8Array(PAGE)
  const v = new DataView(page.buffer)
  const sorted = [...exports].sort((a, b) => (a[0] < b[0] ? -1 : 1))
  const n = sorted.length
  const functions = 0x40
  const names = functions + n * 4
  const ordinals = names + n * 4
  let strings = ordinals + n * 2 + 16
  const dllName = strings
  page.set(ascii('ntoskrnl.exe'), strings)
  strings += 16
  v.setUint32(0x0c, RVA.edata + dllName, true)
  v.setUint32(0x10, 1, true)
  v.setUint32(0x14, n, true)
  v.setUint32(0x18, n, true)
  v.setUint32(0x1c, RVA.edata + functions, true)
  v.setUint32(0x20, RVA.edata + names, true)
  v.setUint32(0x24, RVA.edata + ordinals, true)
  sorted.forEach(([name, rva], i) => {
    v.setUint32(functions + i * 4, rva, true)
    v.setUint32(names + i * 4, RVA.edata + strings, true)
    v.setUint16(ordinals + i * 2, i, true)
    page.set(ascii(name), strings)
    strings += name.length + 1
  })
  return page
}

function kdbgBlock(processHead: bigint, moduleList: bigint): Uint8Array {
  const b = new Uint8Array(0x380)
  const v = new DataView(b.buffer)
  v.setUint32(0x10, 0x4742444b, true)
  v.setUint32(0x14, 0x380, true)
  v.setBigUint64(0x18, KERNEL_BASE, true)
  v.setBigUint64(0x48, moduleList, true)
  v.setBigUint64(0x50, processHead, true)
  v.setUint16(0x2a8, EP.size, true)
  v.setUint16(0x2aa, EP.peb, true)
  v.setUint16(0x2ac, EP.parent, true)
  v.setUint16(0x2ae, EP.dtb, true)
  return b
}

/**
 * Encodes a block in place as Windows 10+ does: per qword, XOR with a key,
 * rotate by the key's low byte, XOR with the block address, byte-swap, XOR
 * with a second key. The keys are random: the OS must decode without them.
 */
function encodeKdbg(block: Uint8Array, address: bigint, keys: Uint8Array): Uint8Array {
  const k = new DataView(keys.buffer, keys.byteOffset, 16)
  const never = k.getBigUint64(0, true)
  const always = k.getBigUint64(8, true)
  const out = new Uint8Array(block.length)
  const src = new DataView(block.buffer, block.byteOffset, block.byteLength)
  const dst = new DataView(out.buffer)
  for (let q = 0; q + 8 <= block.length; q += 8) {
    dst.setBigUint64(q, bswap(rol(src.getBigUint64(q, true) ^ never, Number(never & 0xffn)) ^ address) ^ always, true)
  }
  return out
}

interface ProcessPlan {
  readonly pid: number
  readonly ppid: number
  readonly name: string
  readonly user: boolean
}

const PLANS: readonly ProcessPlan[] = [
  { pid: 4, ppid: 0, name: 'System', user: false },
  { pid: 88, ppid: 4, name: 'Registry', user: false },
  { pid: 340, ppid: 4, name: 'smss.exe', user: true },
  { pid: 1234, ppid: 340, name: 'notepad.exe', user: true },
  { pid: 2000, ppid: 1188, name: 'paged.exe', user: true },
]

/** A balanced tree of MMVAD_SHORT nodes for sorted VADs; returns the root's address. */
function vadTree(pool: Heap, vads: readonly { start: bigint; end: bigint; protection: number; privateMemory: boolean }[]): bigint {
  if (vads.length === 0) return 0n
  const mid = Math.floor(vads.length / 2)
  const left = vadTree(pool, vads.slice(0, mid))
  const right = vadTree(pool, vads.slice(mid + 1))
  const vad = vads[mid]!
  const node = new Uint8Array(0x40)
  const v = new DataView(node.buffer)
  v.setBigUint64(0, left, true)
  v.setBigUint64(8, right, true)
  const startVpn = vad.start >> 12n
  const endVpn = (vad.end >> 12n) - 1n
  v.setUint32(0x18, Number(startVpn & 0xffffffffn), true)
  v.setUint32(0x1c, Number(endVpn & 0xffffffffn), true)
  v.setUint8(0x20, Number(startVpn >> 32n))
  v.setUint8(0x21, Number(endVpn >> 32n))
  v.setUint32(0x30, (vad.protection << 7) | (vad.privateMemory ? 1 << 20 : 0) | ((vad.privateMemory ? 0 : 2) << 4), true)
  return pool.alloc(node)
}

const PERMS_OF: Readonly<Record<number, string>> = { 4: 'rw-p', 7: 'rwxp', 1: 'r--p' }

function buildUser(memory: BuiltMemory, kernelPool: Heap, pml4: number, plan: ProcessPlan, random: (n: number) => Uint8Array):
Omit<BuiltProcess, 'pid' | 'ppid' | 'name' | 'eprocess' | 'dtb' | 'kernelOnly'> & { peb: bigint; vadRoot: bigint } {
  const space = new Space(memory, pml4, true)
  const heap = new Heap(space, 0x10000000n)
  const images: BuiltModule[] = [
    { name: plan.name, base: 0x7ff600000000n + BigInt(plan.pid) * 0x100000n, sizeBytes: 0x3000n, path: `C:\\Windows\\System32\\${plan.name}` },
    { name: 'ntdll.dll', base: 0x7ffb00000000n, sizeBytes: 0x2000n, path: 'C:\\Windows\\System32\\ntdll.dll' },
    { name: 'KERNEL32.DLL', base: 0x7ffa00000000n, sizeBytes: 0x2000n, path: 'C:\\Windows\\System32\\KERNEL32.DLL' },
  ]
  for (const m of images) {
    for (let off = 0n; off < m.sizeBytes; off += BigInt(PAGE)) space.mapNew(m.base + off, { executable: true })
    space.write(m.base, new Uint8Array([0x4d, 0x5a]))
  }
  // Loader list: PEB_LDR_DATA with InLoadOrderModuleList at +0x10, entries of 0x68 bytes.
  const ldr = heap.alloc(0x58)
  const entries = images.map(() => heap.alloc(0x100))
  const ring = [ldr + 0x10n, ...entries]
  ring.forEach((link, i) => {
    space.write(link, u64(ring[(i + 1) % ring.length]!))
    space.write(link + 8n, u64(ring[(i + ring.length - 1) % ring.length]!))
  })
  images.forEach((m, i) => {
    const e = entries[i]!
    space.write(e + 0x30n, u64(m.base))
    space.write(e + 0x40n, u32(Number(m.sizeBytes)))
    space.write(e + 0x48n, heap.unicode(m.path))
    space.write(e + 0x58n, heap.unicode(m.name))
  })
  const cmdline = [images[0]!.path, '/flag', 'two words']
  const params = heap.alloc(0x100)
  space.write(params + 0x60n, heap.unicode(images[0]!.path))
  space.write(params + 0x70n, heap.unicode(`"${cmdline[0]}" ${cmdline[1]} "${cmdline[2]}"`))
  const peb = 0x7ff5f000n + BigInt(plan.pid) * 0x10000n
  space.mapNew(peb, { writable: true })
  space.write(peb + 0x10n, u64(images[0]!.base))
  space.write(peb + 0x18n, u64(ldr))
  space.write(peb + 0x20n, u64(params))
  // A heap holding the pattern, and a region whose last two pages are paged out.
  const data = 0x20000000n
  for (let i = 0n; i < 4n; i++) space.mapNew(data + i * BigInt(PAGE), { writable: true })
  const pattern = { addr: data + 0x100n, bytes: new Uint8Array([...Buffer.from(`memweave pattern pid ${plan.pid} `), ...random(0x1000)]) }
  space.write(pattern.addr, pattern.bytes)
  const paged = 0x30000000n
  space.mapNew(paged, { writable: true })
  space.mapNew(paged + 0x1000n, { writable: true })
  memory.mapPagedOut(pml4, paged + 0x2000n)
  memory.mapPagedOut(pml4, paged + 0x3000n)
  const heapEnd = 0x10000000n + 0x2000n
  const vads = [
    { start: 0x10000000n, end: heapEnd, protection: 4, privateMemory: true },
    { start: data, end: data + 0x4000n, protection: 4, privateMemory: true },
    { start: paged, end: paged + 0x4000n, protection: 4, privateMemory: true },
    { start: peb, end: peb + 0x1000n, protection: 4, privateMemory: true },
    ...images.map((m) => ({ start: m.base, end: m.base + m.sizeBytes, protection: 7, privateMemory: false })),
  ].sort((a, b) => (a.start < b.start ? -1 : 1))
  const vadRoot = vadTree(kernelPool, vads)
  return {
    peb,
    vadRoot,
    modules: images,
    vads: vads.map((v) => ({ start: v.start, end: v.end, perms: PERMS_OF[v.protection] ?? '?' })),
    path: images[0]!.path,
    cmdline,
    pattern,
    pagedOut: paged + 0x2000n,
    droppable: { virt: data + 0x2000n, frame: space.frameOf(data + 0x2000n)! },
  }
}

export function buildWindowsImage(options: WindowsImageOptions = {}): BuiltWindows {
  const random = seeded(options.seed ?? 7)
  const memory = new BuiltMemory()
  const kernelPml4 = memory.allocFrame()
  const kernel = new Space(memory, kernelPml4, false)
  const pool = new Heap(kernel, POOL_BASE)
  // ntoskrnl
  const processHead = KERNEL_BASE + BigInt(DATA.processHead)
  const moduleList = KERNEL_BASE + BigInt(DATA.moduleList)
  const exports = [['PsActiveProcessHead', DATA.processHead], ['PsLoadedModuleList', DATA.moduleList], ['PsInitialSystemProcess', DATA.initialSystem],
    ['NtBuildNumber', DATA.buildNumber], ['KeBugCheckEx', RVA.text + 0x10], ['ExAllocatePoolWithTag', RVA.text + 0x20], ['ZwClose', RVA.text + 0x30]] as const
  for (let rva = 0; rva < RVA.size; rva += PAGE) kernel.mapNew(KERNEL_BASE + BigInt(rva), { writable: rva >= RVA.data && rva < RVA.init, executable: rva < RVA.edata || rva >= RVA.init })
  kernel.write(KERNEL_BASE, peHeaderPage(RVA.edata, 0x400))
  kernel.write(KERNEL_BASE + BigInt(RVA.edata), exportPage(exports.filter(([name]) => options.hideInitialSystemProcess !== true || name !== 'PsInitialSystemProcess')))
  kernel.write(KERNEL_BASE + BigInt(DATA.buildNumber), u32(0xf0004a61))
  const kdbg = options.kdbg === true || options.kdbg === 'encoded' ? KERNEL_BASE + BigInt(DATA.kdbg) : undefined
  if (kdbg !== undefined) {
    const block = kdbgBlock(processHead, moduleList)
    kernel.write(kdbg, options.kdbg === 'encoded' ? encodeKdbg(block, kdbg, random(16)) : block)
  }
  // Processes
  const built: BuiltProcess[] = []
  const userPml4s: number[] = []
  const eprocesses = PLANS.map(() => pool.alloc(EP.size))
  PLANS.forEach((plan, i) => {
    const ep = eprocesses[i]!
    const pml4 = plan.pid === 4 ? kernelPml4 : memory.allocFrame()
    if (pml4 !== kernelPml4) userPml4s.push(pml4)
    const user = plan.user ? buildUser(memory, pool, pml4, plan, random) : undefined
    kernel.write(ep + BigInt(EP.dtb), u64(BigInt(pml4)))
    kernel.write(ep + BigInt(EP.pid), u64(BigInt(plan.pid)))
    kernel.write(ep + BigInt(EP.parent), u64(BigInt(plan.ppid)))
    kernel.write(ep + BigInt(EP.name), ascii(plan.name))
    kernel.write(ep + BigInt(EP.peb), u64(user?.peb ?? 0n))
    kernel.write(ep + BigInt(EP.vadRoot), u64(user?.vadRoot ?? 0n))
    // Noise a derivation must not take for a field: a kernel pointer (ObjectTable) and a counter.
    kernel.write(ep + 0x570n, u64(POOL_BASE + 0x123450n))
    kernel.write(ep + 0x5f0n, u64(BigInt(3 + i)))
    built.push({
      pid: plan.pid, ppid: plan.ppid, name: plan.name, eprocess: ep, dtb: BigInt(pml4), kernelOnly: !plan.user,
      modules: user?.modules ?? [], vads: user?.vads ?? [], path: user?.path, cmdline: user?.cmdline ?? [],
      pattern: user?.pattern, pagedOut: user?.pagedOut, droppable: user?.droppable,
    })
  })
  const ring = [processHead, ...eprocesses.map((e) => e + BigInt(EP.links))]
  ring.forEach((link, i) => {
    const next = options.cyclic === true && i === ring.length - 1 ? ring[2]! : ring[(i + 1) % ring.length]!
    kernel.write(link, u64(next))
    kernel.write(link + 8n, u64(ring[(i + ring.length - 1) % ring.length]!))
  })
  kernel.write(KERNEL_BASE + BigInt(DATA.initialSystem), u64(eprocesses[0]!))
  // Drivers: KLDR entries in pool on PsLoadedModuleList.
  const drivers: BuiltModule[] = [
    { name: 'ntoskrnl.exe', base: KERNEL_BASE, sizeBytes: BigInt(RVA.size), path: '\\SystemRoot\\system32\\ntoskrnl.exe' },
    { name: 'hal.dll', base: 0xfffff80000800000n, sizeBytes: 0x6000n, path: '\\SystemRoot\\system32\\hal.dll' },
    { name: 'disk.sys', base: 0xfffff80001200000n, sizeBytes: 0x1e000n, path: '\\SystemRoot\\System32\\drivers\\disk.sys' },
  ]
  const driverEntries = drivers.map(() => pool.alloc(0xa0))
  const dring = [moduleList, ...driverEntries]
  dring.forEach((link, i) => {
    kernel.write(link, u64(dring[(i + 1) % dring.length]!))
    kernel.write(link + 8n, u64(dring[(i + dring.length - 1) % dring.length]!))
  })
  drivers.forEach((d, i) => {
    const e = driverEntries[i]!
    kernel.write(e + 0x30n, u64(d.base))
    kernel.write(e + 0x40n, u32(Number(d.sizeBytes)))
    kernel.write(e + 0x48n, pool.unicode(d.path))
    kernel.write(e + 0x58n, pool.unicode(d.name))
  })
  // Self-reference, then every process root shares the kernel half (and maps itself).
  memory.writeU64(kernelPml4 + SELF_REF_INDEX * 8, BigInt(kernelPml4) | 3n | (1n << 63n))
  for (const pml4 of userPml4s) {
    for (let i = 256; i < 512; i++) memory.writeU64(pml4 + i * 8, memory.readU64(kernelPml4 + i * 8))
    memory.writeU64(pml4 + SELF_REF_INDEX * 8, BigInt(pml4) | 3n | (1n << 63n))
  }
  if (options.lowStub === true) {
    const stub = new Uint8Array(PAGE)
    const v = new DataView(stub.buffer)
    v.setBigUint64(0, 0x00000001000600e9n, true)
    v.setBigUint64(0x70, KERNEL_BASE + 0x1234n * 16n, true)
    v.setBigUint64(0xa0, BigInt(kernelPml4), true)
    memory.writePhys(0x1000, stub)
  }
  return { memory, kernelDtb: kernelPml4, processes: built, drivers, kdbg, processHead, moduleList }
}
