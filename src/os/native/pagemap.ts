/**
 * Physical backing of a host process's pages from /proc/PID/pagemap: one
 * u64 per virtual page (bit 63 present, bits 0-54 the page frame number).
 * Runs of virtually and physically contiguous present pages with the same
 * permissions are merged. Mappings that /proc/PID/smaps shows with no
 * resident pages are skipped: reading pagemap costs 8 bytes per virtual
 * page, and processes reserve tens of GiB they never touch. Without CAP_SYS_ADMIN the kernel reports every
 * frame number as 0; that is reported as a permission error rather than a
 * list of zeros.
 */
import { open } from 'node:fs/promises'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { physAddr, virtAddr } from '../../mem/index.js'
import type { MapEntry, PhysMapEntry } from '../os-model.js'
import { parseMaps } from '../leaves/maps-format.js'
import { preadAt, readProcText } from './proc-files.js'

const PAGE_BYTES = 4096n
const ENTRY_BYTES = 8
/** Pagemap entries read per pread (512 KiB). */
const CHUNK_ENTRIES = 65536
/** Bits 32-54 of an entry: the high part of the frame number. */
const PFN_HIGH_MASK = 0x7fffff
/** Mappings at or above this are not user pages (the [vsyscall] page); pagemap has nothing for them. */
const USER_LIMIT = 1n << 57n

interface Run { virtPage: number; frame: number; pages: number; writable: boolean; executable: boolean }

/** Mappings of /proc/PID/smaps that have resident pages. */
export function residentMappings(smaps: string): MapEntry[] {
  const out: MapEntry[] = []
  let header: string | undefined
  for (const line of smaps.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) { header = line; continue }
    const rss = /^Rss:\s+([0-9]+) kB/.exec(line)
    if (rss !== null && header !== undefined && rss[1] !== '0') out.push(...parseMaps(`${header}\n`))
  }
  return out
}

export async function readPhysMaps(pid: number, description: string): Promise<PhysMapEntry[]> {
  const smaps = await readProcText(`/proc/${pid}/smaps`)
  if (smaps === undefined) throw new MemweaveError('os', 'stale', `${description} has exited`)
  const maps = residentMappings(smaps)
  if (maps.length === 0) return [] // nothing resident (a kernel thread has no address space at all)
  const path = `/proc/${pid}/pagemap`
  const file = await open(path, 'r').catch((err: unknown) => { throw toMemweaveError(err, 'os', `${description}: cannot open ${path}`) })
  const runs: Run[] = []
  let present = 0
  let zeroFrames = 0
  try {
    const buffer = Buffer.alloc(CHUNK_ENTRIES * ENTRY_BYTES)
    for (const map of maps) {
      if (map.start >= USER_LIMIT) continue
      const writable = map.perms[1] === 'w'
      const executable = map.perms[2] === 'x'
      let current: Run | undefined
      for (let page = map.start / PAGE_BYTES; page < map.end / PAGE_BYTES;) {
        const count = Number(map.end / PAGE_BYTES - page < BigInt(CHUNK_ENTRIES) ? map.end / PAGE_BYTES - page : BigInt(CHUNK_ENTRIES))
        const bytesRead = await preadAt(file.fd, buffer, 0, count * ENTRY_BYTES, page * BigInt(ENTRY_BYTES))
        const got = Math.floor(bytesRead / ENTRY_BYTES)
        const first = Number(page) // virtual page numbers (< 2^45) and frame numbers (< 2^40) fit in a double
        for (let k = 0; k < got; k++) {
          // Bit 63 (present) is the top bit of the high word: test it before touching the rest.
          const high = buffer.readUInt32LE(k * ENTRY_BYTES + 4)
          if ((high & 0x80000000) === 0) { current = undefined; continue }
          present++
          const frame = (high & PFN_HIGH_MASK) * 0x100000000 + buffer.readUInt32LE(k * ENTRY_BYTES)
          if (frame === 0) zeroFrames++
          const virtPage = first + k
          if (current !== undefined && current.virtPage + current.pages === virtPage && current.frame + current.pages === frame) {
            current.pages++
          } else {
            current = { virtPage, frame, pages: 1, writable, executable }
            runs.push(current)
          }
        }
        if (got < count) break // the kernel stopped early (end of the address space)
        page += BigInt(count)
      }
    }
  } catch (err) {
    throw toMemweaveError(err, 'os', `${description}: reading ${path}`)
  } finally {
    await file.close()
  }
  if (present > 0 && zeroFrames === present) {
    throw new MemweaveError('os', 'permission',
      `${description}: ${path} shows ${present} present pages but every physical frame number reads as 0; the kernel hides them without CAP_SYS_ADMIN (run the daemon as root)`)
  }
  return runs.map((r) => ({
    virt: virtAddr(BigInt(r.virtPage) * PAGE_BYTES),
    phys: physAddr(BigInt(r.frame) * PAGE_BYTES),
    sizeBytes: BigInt(r.pages) * PAGE_BYTES,
    writable: r.writable,
    executable: r.executable,
    user: true,
  }))
}
