/**
 * Text formats of the process `maps` and `phys_maps` leaves. `maps` is
 * byte-for-byte what Linux prints in /proc/PID/maps (fs/proc/task_mmu.c):
 * hex fields at least 8 digits wide, and the path column padded so it
 * starts after column 73 (25 + 6 × pointer size, then one space).
 * `phys_maps` is our own fixed-width format, one line per run of virtually
 * and physically contiguous pages with the same permissions:
 *   VIRT_START-VIRT_END PHYS_START PERMS SIZE
 * addresses as 16 hex digits, PERMS 'rwx' plus 'u' (user) or 's' (supervisor),
 * each missing right as '-', SIZE in hex without a prefix.
 */
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { MapEntry, PhysMapEntry } from '../os-model.js'

/** Width the kernel pads the header to before the path (seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)). */
const MAPS_PATH_COLUMN = 25 + 8 * 6 - 1

function hexMin(value: bigint, digits: number): string {
  return value.toString(16).padStart(digits, '0')
}

/** One /proc/PID/maps line without its newline. Newlines in paths are escaped as the kernel does ('\012'). */
export function formatMapsLine(entry: MapEntry): string {
  const header = `${hexMin(entry.start, 8)}-${hexMin(entry.end, 8)} ${entry.perms} ${hexMin(entry.offset, 8)} ${entry.dev} ${entry.inode} `
  if (entry.path.length === 0) return header
  return `${header.padEnd(MAPS_PATH_COLUMN, ' ')} ${entry.path.replaceAll('\n', '\\012')}`
}

export function formatMaps(entries: readonly MapEntry[]): string {
  return entries.map((e) => `${formatMapsLine(e)}\n`).join('')
}

export function formatPhysMapsLine(entry: PhysMapEntry): string {
  const perms = `r${entry.writable ? 'w' : '-'}${entry.executable ? 'x' : '-'}${entry.user ? 'u' : 's'}`
  return `${hexMin(entry.virt, 16)}-${hexMin(entry.virt + entry.sizeBytes, 16)} ${hexMin(entry.phys, 16)} ${perms} ${entry.sizeBytes.toString(16)}`
}

export function formatPhysMaps(entries: readonly PhysMapEntry[]): string {
  return entries.map((e) => `${formatPhysMapsLine(e)}\n`).join('')
}

/**
 * Parses /proc/PID/maps text back into entries (the native OS reads the
 * host's; tests compare against it). The path is everything after the
 * padded header column, so paths with spaces survive.
 */
export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = []
  for (const line of text.split('\n')) {
    if (line.length === 0) continue
    const match = /^([0-9a-f]+)-([0-9a-f]+) ([-rwxsp]{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) ([0-9]+) /.exec(line)
    if (match === null) throw new MemweaveError('os', 'malformed', `not a maps line: '${line.slice(0, 80)}'`)
    const headerLength = match[0].length
    const path = line.length <= headerLength ? '' : line.slice(Math.max(headerLength, MAPS_PATH_COLUMN) + 1)
    out.push({
      start: virtAddr(BigInt(`0x${match[1] ?? ''}`)),
      end: virtAddr(BigInt(`0x${match[2] ?? ''}`)),
      perms: match[3] ?? '----',
      offset: BigInt(`0x${match[4] ?? ''}`),
      dev: match[5] ?? '00:00',
      inode: BigInt(match[6] ?? '0'),
      path,
    })
  }
  return out
}
