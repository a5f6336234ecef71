/**
 * The `maps` method: guest RAM found without QMP. The command line gives
 * the machine type and RAM size (and a memory backend, if any); the board
 * rules (guest-layout.ts) give the guest-physical split; /proc/PID/maps
 * gives the one host mapping whose size is the RAM size.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex } from '../../mem/index.js'
import { guestRamLayout, machineFamily } from './guest-layout.js'
import { mappingFlags, readProcMaps } from './proc-maps.js'
import type { HostMapping } from './proc-maps.js'
import { parseQemuSize } from './qemu-cmdline.js'
import type { MemoryBackend, QemuCommandLine } from './qemu-cmdline.js'
import type { QemuRamLayout } from './ram-layout.js'

/** QEMU's x86 default when -m is not given. */
const DEFAULT_RAM_BYTES = 128n << 20n

export async function layoutFromMaps(pid: number, cmd: QemuCommandLine): Promise<QemuRamLayout> {
  if (cmd.numa) {
    throw new MemweaveError('connector', 'unsupported', `qemu: pid ${pid} uses -numa (RAM in several blocks); give qmp=SOCKET so the layout is read from QEMU`)
  }
  const backend = machineBackend(cmd, pid)
  const ramBytes = ramSize(cmd, backend, pid)
  const { family, version } = machineFamily(cmd.machineType, cmd.binary)
  const limit = cmd.machineOptions.get('max-ram-below-4g')
  const guest = guestRamLayout(family, version, ramBytes, limit === undefined ? undefined : parseQemuSize(limit, 'B'))
  const host = await findRamMapping(pid, cmd, backend, ramBytes)
  const block = backend?.id ?? (family === 'virt' ? 'mach-virt.ram' : 'pc.ram')
  return {
    method: 'maps',
    ramBytes,
    machine: cmd.machineType ?? family,
    ranges: guest.ranges.map((r) => ({ guestStart: r.guestStart, length: r.length, hostAddress: host.start + r.blockOffset, block, kind: 'ram' })),
  }
}

function machineBackend(cmd: QemuCommandLine, pid: number): MemoryBackend | undefined {
  const id = cmd.machineOptions.get('memory-backend')
  if (id === undefined) return undefined
  const backend = cmd.memoryBackends.get(id)
  if (backend === undefined) throw new MemweaveError('connector', 'malformed', `qemu: pid ${pid}: -machine memory-backend=${id} names no -object memory-backend-* with that id`)
  return backend
}

function ramSize(cmd: QemuCommandLine, backend: MemoryBackend | undefined, pid: number): bigint {
  const fromBackend = backend?.sizeBytes
  if (cmd.ramBytes !== undefined && fromBackend !== undefined && cmd.ramBytes !== fromBackend) {
    throw new MemweaveError('connector', 'malformed', `qemu: pid ${pid}: -m (${cmd.ramBytes} bytes) and memory backend '${backend?.id ?? ''}' (${fromBackend} bytes) disagree`)
  }
  return cmd.ramBytes ?? fromBackend ?? DEFAULT_RAM_BYTES
}

/** Does this mapping look like the RAM's backing (anonymous, the backend's file, a memfd)? */
function matchesBacking(m: HostMapping, cmd: QemuCommandLine, backend: MemoryBackend | undefined): boolean {
  const path = m.path.replace(/ \(deleted\)$/, '')
  const filePath = backend?.memPath ?? cmd.memPath
  if (backend?.qomType === 'memory-backend-memfd') return path.startsWith('/memfd:')
  // mem-path may be a file or a directory QEMU creates a temporary file in.
  if (filePath !== undefined) return path === filePath || path.startsWith(`${filePath.replace(/\/$/, '')}/`)
  return path === ''
}

async function findRamMapping(pid: number, cmd: QemuCommandLine, backend: MemoryBackend | undefined, ramBytes: bigint): Promise<HostMapping> {
  const mappings = await readProcMaps(pid)
  let candidates = mappings.filter((m) => m.end - m.start === ramBytes && m.readable && m.writable && matchesBacking(m, cmd, backend))
  if (candidates.length > 1) {
    // QEMU marks RAM blocks MADV_DONTFORK ('dc'); other buffers of the same size are not.
    const flagged: HostMapping[] = []
    for (const m of candidates) if ((await mappingFlags(pid, m.start)).includes('dc')) flagged.push(m)
    if (flagged.length > 0) candidates = flagged
  }
  const only = candidates[0]
  if (only !== undefined && candidates.length === 1) return only
  const list = candidates.map((m) => `${hex(m.start)}-${hex(m.end)} ${m.path || '(anonymous)'}`).join(', ')
  throw new MemweaveError('connector', candidates.length === 0 ? 'not_found' : 'unsupported',
    candidates.length === 0
      ? `qemu: pid ${pid}: no mapping of exactly ${ramBytes} bytes (the guest RAM size) in /proc/${pid}/maps; give qmp=SOCKET`
      : `qemu: pid ${pid}: several mappings could be the guest RAM (${list}); give qmp=SOCKET`)
}
