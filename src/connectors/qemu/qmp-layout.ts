/**
 * The `qmp` method: QEMU itself says where guest RAM is. `info mtree -f`
 * lists the flattened guest-physical map of the "memory" address space
 * (each RAM/ROM piece with its block name and offset in the block);
 * `gpa2hva` gives one host address per block; query-memory-size-summary
 * gives the RAM size.
 *
 *   0000000000100000-000000001fffffff (prio 0, ram): pc.ram @0000000000100000
 *   └ guest range (end inclusive)          type      block  └ offset in block
 */
import { MemweaveError } from '../../errors/index.js'
import { hex } from '../../mem/index.js'
import { assertMapped } from './proc-maps.js'
import type { HostMapping } from './proc-maps.js'
import type { QmpClient } from './qmp-client.js'
import { mergeRanges } from './ram-layout.js'
import type { QemuRamLayout, QemuRamRange } from './ram-layout.js'

export interface FlatRegion {
  readonly start: bigint
  /** Exclusive. */
  readonly end: bigint
  /** As QEMU prints it: ram, rom, nv-ram, romd, i/o, ... */
  readonly type: string
  readonly name: string
  readonly offset: bigint
}

const REGION = /^\s+([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, ([^)]+)\): (.*)$/
/** Region types backed by host memory that reads have no side effects on. */
const MEMORY_TYPES: ReadonlyMap<string, 'ram' | 'rom'> = new Map([['ram', 'ram'], ['nv-ram', 'ram'], ['rom', 'rom'], ['nv-rom', 'rom'], ['romd', 'rom']])

/** The regions of the flat view that serves address space `addressSpace` ("memory": what the CPUs see). */
export function parseFlatView(text: string, addressSpace = 'memory'): FlatRegion[] {
  let spaces: string[] = []
  let collecting = false
  let found = false
  const out: FlatRegion[] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('FlatView #')) { spaces = []; collecting = false; continue }
    const as = /^ AS "([^"]*)"/.exec(line)
    if (as !== null) { spaces.push(as[1]!); collecting = spaces.includes(addressSpace); found ||= collecting; continue }
    if (!collecting) continue
    const m = REGION.exec(line)
    if (m === null) continue
    let rest = m[4]!.replace(/ KVM$/, '')
    let offset = 0n
    const at = / @([0-9a-f]+)$/.exec(rest)
    if (at !== null) { offset = BigInt(`0x${at[1]!}`); rest = rest.slice(0, at.index) }
    out.push({ start: BigInt(`0x${m[1]!}`), end: BigInt(`0x${m[2]!}`) + 1n, type: m[3]!, name: rest, offset })
  }
  if (!found) throw new MemweaveError('connector', 'malformed', `qemu: 'info mtree -f' shows no flat view of address space '${addressSpace}'`)
  return out
}

/** Host address of guest address `gpa`, from the monitor's `gpa2hva`. */
async function hostAddressOf(client: QmpClient, gpa: bigint): Promise<bigint> {
  const text = await client.humanMonitor(`gpa2hva ${hex(gpa)}`)
  const m = /is (0x[0-9a-f]+)/i.exec(text)
  if (m === null) throw new MemweaveError('connector', 'malformed', `qemu: 'gpa2hva ${hex(gpa)}' answered: ${text.trim().slice(0, 200)}`)
  return BigInt(m[1]!)
}

function sizeField(value: unknown, key: string): bigint {
  if (typeof value !== 'object' || value === null) return 0n
  const n: unknown = Reflect.get(value, key)
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? BigInt(n) : 0n
}

async function machineType(client: QmpClient): Promise<string> {
  try {
    const type = await client.execute('qom-get', { path: '/machine', property: 'type' })
    return typeof type === 'string' ? type.replace(/-machine$/, '') : 'unknown'
  } catch (err) {
    // Older QEMUs lack the property; the machine type is only informative here.
    if (err instanceof MemweaveError && err.kind !== 'timeout' && err.kind !== 'disconnected') return 'unknown'
    throw err
  }
}

/** Reads the guest RAM layout over an open QMP session and checks it against the process's mappings. */
export async function layoutFromQmp(client: QmpClient, mappings: readonly HostMapping[]): Promise<QemuRamLayout> {
  const summary = await client.execute('query-memory-size-summary')
  const ramBytes = sizeField(summary, 'base-memory') + sizeField(summary, 'plugged-memory')
  const machine = await machineType(client)
  const regions = parseFlatView(await client.humanMonitor('info mtree -f')).filter((r) => MEMORY_TYPES.has(r.type))
  if (regions.length === 0) throw new MemweaveError('connector', 'malformed', `qemu: 'info mtree -f' lists no RAM in the guest's address space`)
  const blockBase = new Map<string, bigint>()
  const ranges: QemuRamRange[] = []
  for (const r of regions) {
    let base = blockBase.get(r.name)
    if (base === undefined) {
      base = (await hostAddressOf(client, r.start)) - r.offset
      blockBase.set(r.name, base)
    }
    ranges.push({ guestStart: r.start, length: r.end - r.start, hostAddress: base + r.offset, block: r.name, kind: MEMORY_TYPES.get(r.type) ?? 'rom' })
  }
  const merged = mergeRanges(ranges)
  // A socket of another QEMU would name addresses this process does not map.
  for (const r of merged) assertMapped(mappings, r.hostAddress, r.length, `RAM block '${r.block}' at guest ${hex(r.guestStart)} (as QMP reports it: is the socket this QEMU's?)`)
  return { method: 'qmp', ranges: merged, ramBytes, machine }
}
