/**
 * The host side of a QEMU process: its /proc/PID/maps mappings, and checks
 * that a guest RAM range really is mapped there (so reads through
 * /proc/PID/mem cannot fall into a hole).
 */
import { readFile } from 'node:fs/promises'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { hex } from '../../mem/index.js'

export interface HostMapping {
  readonly start: bigint
  readonly end: bigint
  readonly readable: boolean
  readonly writable: boolean
  readonly shared: boolean
  readonly offset: bigint
  /** Path, [heap]-style name, or '' for anonymous memory. */
  readonly path: string
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])[x-]([ps]) ([0-9a-f]+) \S+ \d+\s*(.*)$/

export function parseProcMaps(text: string): HostMapping[] {
  const out: HostMapping[] = []
  for (const line of text.split('\n')) {
    const m = LINE.exec(line)
    if (m === null) continue
    out.push({
      start: BigInt(`0x${m[1]!}`), end: BigInt(`0x${m[2]!}`),
      readable: m[3] === 'r', writable: m[4] === 'w', shared: m[5] === 's',
      offset: BigInt(`0x${m[6]!}`), path: m[7] ?? '',
    })
  }
  return out
}

export async function readProcMaps(pid: number): Promise<HostMapping[]> {
  try {
    return parseProcMaps(await readFile(`/proc/${pid}/maps`, 'utf8'))
  } catch (err) {
    throw toMemweaveError(err, 'connector', `qemu: cannot read /proc/${pid}/maps`)
  }
}

/** VmFlags of the mapping starting at `start`, from /proc/PID/smaps (e.g. 'dc' = QEMU's MADV_DONTFORK on RAM). */
export async function mappingFlags(pid: number, start: bigint): Promise<string[]> {
  let text: string
  try {
    text = await readFile(`/proc/${pid}/smaps`, 'utf8')
  } catch (err) {
    throw toMemweaveError(err, 'connector', `qemu: cannot read /proc/${pid}/smaps`)
  }
  const header = `${start.toString(16)}-`
  let inside = false
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) { inside = line.startsWith(header); continue }
    if (inside && line.startsWith('VmFlags:')) return line.slice('VmFlags:'.length).trim().split(/\s+/)
  }
  return []
}

/** Throws unless [start, start+length) is covered by readable mappings with no hole. */
export function assertMapped(mappings: readonly HostMapping[], start: bigint, length: bigint, what: string): void {
  let cursor = start
  const end = start + length
  for (const m of mappings) {
    if (m.end <= cursor) continue
    if (m.start > cursor || !m.readable) break
    cursor = m.end
    if (cursor >= end) return
  }
  throw new MemweaveError('connector', 'malformed',
    `qemu: ${what} at host ${hex(start)}+${hex(length)} is not fully mapped in the QEMU process (hole or unreadable at ${hex(cursor)})`)
}
