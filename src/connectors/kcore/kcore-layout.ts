/**
 * /proc/kcore as physical memory. kcore is an ELF64 core of the running
 * kernel: each PT_LOAD has a kernel virtual address (p_vaddr), a file
 * offset, and for RAM a physical address (p_paddr; -1 for vmalloc, vmemmap
 * and modules). The kernel text mapping also carries a p_paddr but aliases
 * RAM that the direct map already covers, so only segments whose
 * p_vaddr - p_paddr equals the direct map's offset (PAGE_OFFSET) count:
 *
 *   PT_LOAD vaddr=PAGE_OFFSET+P paddr=P ─▶ physical [P, P+size) at file offset p_offset
 *   PT_LOAD vaddr=_text       paddr=T   ─▶ skipped (alias of the direct map)
 *   PT_NOTE ─▶ notes, incl. VMCOREINFO (hints for the OS layer), read by the
 *             shared bounded parser (../elf): a malformed note fails the open
 */
import { MemweaveError } from '../../errors/index.js'
import type { MappedRange } from '../../mem/index.js'
import type { ElfNote } from '../connector.js'
import {
  EHDR_BYTES, ELFCLASS64, ELFDATA2LSB, ET_CORE, NO_PADDR, PHDR_BYTES, PN_XNUM, PT_LOAD, PT_NOTE, SHDR_BYTES,
  checkNoteBytes, decodeProgramHeaders, hasElfMagic, parseElfNotes,
} from '../elf/index.js'

export interface KcoreSource {
  readonly name: string
  /** Up to `length` bytes at `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>
}

export interface KcoreLayout {
  /** Physical address → file offset. */
  readonly ranges: readonly MappedRange[]
  /** p_vaddr - p_paddr of the direct map: the kernel's PAGE_OFFSET. */
  readonly directMapBase: bigint
  readonly loadSegments: number
  readonly notes: readonly ElfNote[]
}

const MAX_PHDRS = 65536
const U64 = 1n << 64n

interface LoadSegment { readonly offset: bigint; readonly vaddr: bigint; readonly paddr: bigint; readonly size: bigint }

function malformed(source: KcoreSource, problem: string): MemweaveError {
  return new MemweaveError('connector', 'malformed', `${source.name}: ${problem}`)
}

async function readExactly(source: KcoreSource, offset: number, length: number, what: string): Promise<DataView> {
  const bytes = await source.read(offset, length)
  if (bytes.length < length) throw malformed(source, `truncated ${what} (${bytes.length} of ${length} bytes at offset ${offset})`)
  return new DataView(bytes.buffer, bytes.byteOffset, length)
}

export async function parseKcore(source: KcoreSource): Promise<KcoreLayout> {
  const head = await readExactly(source, 0, EHDR_BYTES, 'ELF header')
  if (!hasElfMagic(new Uint8Array(head.buffer, head.byteOffset, 4))) throw malformed(source, 'not an ELF file')
  if (head.getUint8(4) !== ELFCLASS64 || head.getUint8(5) !== ELFDATA2LSB) throw malformed(source, 'not a little-endian ELF64 file')
  if (head.getUint16(16, true) !== ET_CORE) throw malformed(source, 'not an ELF core file (e_type is not ET_CORE)')
  const phoff = Number(head.getBigUint64(32, true))
  const phentsize = head.getUint16(54, true)
  let phnum = head.getUint16(56, true)
  if (phnum === PN_XNUM) {
    // Too many headers for e_phnum: the real count is in section header 0's sh_info.
    const shoff = Number(head.getBigUint64(40, true))
    phnum = (await readExactly(source, shoff, SHDR_BYTES, 'section header 0')).getUint32(44, true)
  }
  if (phentsize < PHDR_BYTES || phnum === 0 || phnum > MAX_PHDRS) throw malformed(source, `bad program headers (e_phentsize ${phentsize}, e_phnum ${phnum})`)
  const headers = decodeProgramHeaders(await readExactly(source, phoff, phentsize * phnum, 'program header table'), phnum, phentsize)
  const loads: LoadSegment[] = []
  const notes: ElfNote[] = []
  let noteBytes = 0n
  for (const [index, header] of headers.entries()) {
    if (header.type === PT_NOTE) {
      noteBytes += header.fileBytes
      checkNoteBytes(source.name, noteBytes)
      const label = `PT_NOTE #${index}`
      const view = await readExactly(source, Number(header.offset), Number(header.fileBytes), `${label} contents`)
      parseElfNotes(source.name, { bytes: new Uint8Array(view.buffer, view.byteOffset, view.byteLength), align: header.align, fileOffset: Number(header.offset), label }, notes)
    }
    if (header.type !== PT_LOAD) continue
    const size = header.fileBytes < header.memBytes ? header.fileBytes : header.memBytes
    loads.push({ offset: header.offset, vaddr: header.vaddr, paddr: header.paddr, size })
  }
  const directMapBase = directMapOffset(loads)
  if (directMapBase === undefined) {
    throw new MemweaveError('connector', 'unsupported', `${source.name}: no PT_LOAD segment gives a physical address (p_paddr); this kernel's kcore cannot be read as physical memory`)
  }
  const ranges = loads
    .filter((s) => s.paddr !== NO_PADDR && s.size > 0n && (s.vaddr - s.paddr + U64) % U64 === directMapBase)
    .map((s) => ({ start: s.paddr, length: s.size, backing: s.offset }))
  return { ranges, directMapBase, loadSegments: loads.length, notes }
}

/** The vaddr - paddr shared by the most bytes of segments with a physical address: the direct map. */
function directMapOffset(loads: readonly LoadSegment[]): bigint | undefined {
  const bytesByDelta = new Map<bigint, bigint>()
  for (const s of loads) {
    // p_paddr 0 is also what old kernels write for "unknown"; such segments only count if they fit the others.
    if (s.paddr === NO_PADDR || s.paddr === 0n) continue
    const delta = (s.vaddr - s.paddr + U64) % U64
    bytesByDelta.set(delta, (bytesByDelta.get(delta) ?? 0n) + s.size)
  }
  let best: bigint | undefined
  let bestBytes = -1n
  for (const [delta, bytes] of bytesByDelta) if (bytes > bestBytes) { best = delta; bestBytes = bytes }
  return best
}
