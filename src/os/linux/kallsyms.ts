/**
 * The guest's own symbol table, decoded from the kallsyms tables in its
 * image (CONFIG_KALLSYMS_BASE_RELATIVE, 6.1 era):
 *
 *   kallsyms_offsets[n] (i32) · relative_base (u64) · num_syms (u32) ·
 *   names (len-prefixed token strings) · markers (u32 per 256 names) ·
 *   [seqs_of_names, 3 bytes per name, in later 6.1 stable] · token_table · token_index
 *
 * Newer kernels put num_syms first and offsets/relative_base after the token
 * index; both orders are tried. A names entry is a length (one byte, or two
 * when the first has bit 7 set: low 7 bits + next byte << 7) and that many
 * token indexes; the first character of the expansion is the nm type letter.
 * Addresses: with ABSOLUTE_PERCPU an offset >= 0 is absolute and a negative
 * one means relative_base - 1 - offset; otherwise relative_base + (u32)offset.
 */
import { MemweaveError } from '../../errors/index.js'
import { hex } from '../../mem/index.js'
import type { KernelImage } from './kernel-image.js'
import { alignUp, findTokenTable } from './kallsyms-tokens.js'
import type { TokenTable } from './kallsyms-tokens.js'
import { KERNEL_IMAGE_END, KERNEL_IMAGE_START, SymbolTable } from './symbol-table.js'

/**
 * How symbol addresses are stored: `base-relative` is relative_base + (u32)offset;
 * `absolute-percpu` keeps offsets >= 0 as absolute values (per-CPU symbols) and
 * stores relative_base - 1 - offset otherwise; `pc-relative` has no relative_base
 * at all, each entry being an i32 relative to its own address (offset_to_ptr).
 */
export type KallsymsAddressing = 'base-relative' | 'absolute-percpu' | 'pc-relative'

export interface KallsymsLayout {
  readonly order: 'offsets-first' | 'names-first'
  readonly addressing: KallsymsAddressing
  readonly tokenTable: bigint
  readonly tokenIndex: bigint
  readonly names: bigint
  readonly markers: bigint
  readonly offsets: bigint
  /** undefined for pc-relative offsets (no kallsyms_relative_base). */
  readonly relativeBase: bigint | undefined
  /** kallsyms_seqs_of_names, when found (sorted-name index, 3 bytes per symbol). */
  readonly seqsOfNames: bigint | undefined
  readonly numSyms: number
  readonly absolutePercpu: boolean
}

export interface Kallsyms {
  readonly table: SymbolTable
  readonly layout: KallsymsLayout
}

const MIN_SYMS = 64
const MAX_SYMS = 1 << 23
const PRECHECK_NAMES = 64
/** How far before the token table the names may start (real tables are a few MiB). */
const MAX_NAMES_TABLE_BYTES = 24 * 1024 * 1024
/** Candidate positions tried per search before giving up. */
const MAX_CANDIDATES = 200_000
/** seqs_of_names entries checked for sortedness. */
const SEQS_CHECKED = 2048
const NAME_ALIGN = 8
/** Longest expanded name accepted (KSYM_NAME_LEN is 512 since 6.1). */
const MAX_NAME_BYTES = 1024
/** Symbols every kernel has and we rely on. */
export const REQUIRED_SYMBOLS = ['_stext', 'init_task', 'linux_banner'] as const

interface DecodedNames {
  readonly names: string[]
  readonly endOffset: number
  /** Where kallsyms_markers was found (undefined when not checked). */
  readonly markersOffset: number | undefined
}

/** Decodes `count` names from `offset`; undefined when the bytes are not a names table. */
function decodeNames(image: KernelImage, tokens: readonly Uint8Array[], offset: number, count: number, limit: number, markersMustFollow: boolean): DecodedNames | undefined {
  const bytes = image.bytes
  const names: string[] = []
  const markers: number[] = []
  // Expanding into one scratch buffer and decoding once per name is much cheaper than concatenating token strings.
  const scratch = Buffer.allocUnsafe(MAX_NAME_BYTES)
  let pos = offset
  for (let i = 0; i < count; i++) {
    if ((i & 0xff) === 0) markers.push(pos - offset)
    if (pos >= limit) return undefined
    let length = bytes[pos++] ?? 0
    if ((length & 0x80) !== 0) length = (length & 0x7f) | ((bytes[pos++] ?? 0) << 7)
    if (length === 0 || pos + length > limit) return undefined
    let used = 0
    for (let k = 0; k < length; k++) {
      const token = tokens[bytes[pos + k] ?? 0]
      if (token === undefined || used + token.length > MAX_NAME_BYTES) return undefined
      scratch.set(token, used)
      used += token.length
    }
    pos += length
    if (used < 2) return undefined
    names.push(scratch.toString('latin1', 0, used))
  }
  if (!markersMustFollow) return { names, endOffset: pos, markersOffset: undefined }
  const markersOffset = [alignUp(pos, 4), alignUp(pos, NAME_ALIGN)].find((at) => markersMatch(image, at, markers))
  return markersOffset === undefined ? undefined : { names, endOffset: pos, markersOffset }
}

function markersMatch(image: KernelImage, at: number, markers: readonly number[]): boolean {
  if (at + markers.length * 4 > image.bytes.length) return false
  return markers.every((value, k) => image.view.getUint32(at + k * 4, true) === value)
}

/**
 * The cheap full check before a full decode: walk only the length bytes of
 * `count` names and see whether the markers (one u32 offset per 256 names)
 * follow them. Positions inside the names table pass the 64-name precheck
 * too; this refuses them without expanding a single token.
 */
function namesThenMarkers(image: KernelImage, offset: number, count: number, limit: number): boolean {
  const bytes = image.bytes
  const markers: number[] = []
  let pos = offset
  for (let i = 0; i < count; i++) {
    if ((i & 0xff) === 0) markers.push(pos - offset)
    if (pos >= limit) return false
    let length = bytes[pos++] ?? 0
    if ((length & 0x80) !== 0) length = (length & 0x7f) | ((bytes[pos++] ?? 0) << 7)
    if (length === 0) return false
    pos += length
  }
  if (pos > limit) return false
  return markersMatch(image, alignUp(pos, 4), markers) || markersMatch(image, alignUp(pos, NAME_ALIGN), markers)
}

/**
 * O(1) filter: the markers (ceil(n/256) u32, first one 0) sit right before the
 * token table, or before seqs_of_names (3n bytes) in front of it; their last
 * value is the offset of name 256(m-1), so it must land just short of them.
 */
function markersPlausible(image: KernelImage, tokens: TokenTable, namesOffset: number, n: number): boolean {
  const m = Math.ceil(n / 256)
  const tail = (256 + 1) * 258 // the last (< 256) names: up to 2 length bytes and 255 tokens each (generous)
  for (const gap of [0, alignUp(n * 3, 4), alignUp(n * 3, 8)]) {
    const end = tokens.tableOffset - gap
    for (const start of [end - m * 4, (end - m * 4) & ~7, ((end & ~7) - m * 4) & ~7, end - m * 4 - 4]) {
      if (start <= namesOffset || start + m * 4 > image.bytes.length) continue
      if (image.view.getUint32(start, true) !== 0) continue
      const last = image.view.getUint32(start + (m - 1) * 4, true)
      const lastName = namesOffset + last
      if (lastName < start && start - lastName <= tail) return true
    }
  }
  return false
}

/** Cheap test before a full decode: do the first names expand to "<type letter><identifier>"? */
function namesLookValid(image: KernelImage, tokens: readonly Uint8Array[], offset: number, count: number, limit: number): boolean {
  const first = decodeNames(image, tokens, offset, Math.min(count, PRECHECK_NAMES), limit, false)
  return first !== undefined && first.names.every((name) => /^[A-Za-z?][!-~]+$/.test(name))
}

/**
 * Where kernel image addresses may lie: x86-64's fixed text window, or
 * (arm64, whose image sits anywhere in the vmalloc area under KASLR) 2 GiB
 * either side of the image found in memory.
 */
function imageWindow(image: KernelImage): { start: bigint; end: bigint } {
  if (image.base >= KERNEL_IMAGE_START && image.base < KERNEL_IMAGE_END) return { start: KERNEL_IMAGE_START, end: KERNEL_IMAGE_END }
  const span = 1n << 31n
  return { start: image.base - span, end: image.base + BigInt(image.bytes.length) + span }
}

/** An 8-byte value that is a kernel image address (kallsyms_relative_base). */
function imagePointerAt(image: KernelImage, at: number): bigint | undefined {
  if (at < 0 || at + 8 > image.bytes.length) return undefined
  // cheap filter first: kernel addresses have their top 16 bits set
  if (image.view.getUint16(at + 6, true) !== 0xffff) return undefined
  const value = image.view.getBigUint64(at, true)
  const window = imageWindow(image)
  return value >= window.start && value < window.end ? value : undefined
}

interface Candidate {
  readonly order: KallsymsLayout['order']
  readonly namesOffset: number
  /** Where num_syms was read. */
  readonly numSymsOffset: number
  readonly numSyms: number
  /** Where kallsyms_offsets is, or undefined when it follows the token index (found after the names decode). */
  readonly offsetsOffset: number | undefined
  readonly relativeBase: bigint | undefined
}

/**
 * Both orders keep num_syms just before the names and the names just before
 * the markers and the token table, so one backward scan from the token table
 * finds num_syms; the names decode and the markers that must follow them
 * confirm a candidate. Where the offsets are is decided afterwards (placements).
 */
function* numSymsCandidates(image: KernelImage, tokens: TokenTable): Generator<Candidate> {
  const lowest = Math.max(0, tokens.tableOffset - MAX_NAMES_TABLE_BYTES)
  for (let q = alignUp(tokens.tableOffset, 8) - 8; q >= lowest; q -= 4) {
    const numSyms = image.view.getUint32(q, true)
    if (numSyms < MIN_SYMS || numSyms > MAX_SYMS) continue
    // 8-aligned names up to 6.x; newer kernels put them right after num_syms
    for (const namesOffset of new Set([alignUp(q + 4, NAME_ALIGN), q + 4])) {
      // the names take at least two bytes each, and the markers sit between them and the tokens
      if (namesOffset + numSyms * 2 + Math.ceil(numSyms / 256) * 4 > tokens.tableOffset) continue
      yield { order: 'names-first', namesOffset, numSymsOffset: q, numSyms, offsetsOffset: undefined, relativeBase: undefined }
    }
  }
}

/**
 * Where the offsets may be for decoded names: after the token index (names-first:
 * with a relative_base right after them, or pc-relative without one), or before
 * num_syms behind a relative_base (offsets-first, 6.1).
 */
function placements(image: KernelImage, tokens: TokenTable, candidate: Candidate): Resolved[] {
  const out: Resolved[] = []
  const n = candidate.numSyms
  const after = alignUp(tokens.endOffset, 8)
  if (after + n * 4 <= image.bytes.length) out.push({ ...candidate, order: 'names-first', offsetsOffset: after, relativeBase: imagePointerAt(image, alignUp(after + n * 4, 8)) })
  const baseAt = candidate.numSymsOffset - 8
  const relativeBase = imagePointerAt(image, baseAt)
  const before = baseAt - alignUp(n * 4, 8)
  if (relativeBase !== undefined && before >= 0) out.push({ ...candidate, order: 'offsets-first', offsetsOffset: before, relativeBase })
  return out
}

export function loadKallsyms(image: KernelImage): Kallsyms {
  const tokens = findTokenTable(image)
  if (tokens === undefined) {
    throw new MemweaveError('os', 'not_found', `kallsyms: no token table found in the kernel image at ${hex(image.base)} (searched ${(image.bytes.length / 2 ** 20).toFixed(1)} MiB, ${(image.mappedBytes / 2 ** 20).toFixed(1)} MiB mapped)`)
  }
  const tokenBytes = tokens.tokens.map((t) => Buffer.from(t, 'latin1'))
  const tried: string[] = []
  let candidates = 0
  for (const candidate of numSymsCandidates(image, tokens)) {
    const limit = tokens.tableOffset
    if (candidates++ > MAX_CANDIDATES) break
    if (!markersPlausible(image, tokens, candidate.namesOffset, candidate.numSyms)) continue
    if (!namesLookValid(image, tokenBytes, candidate.namesOffset, candidate.numSyms, limit)) continue
    if (!namesThenMarkers(image, candidate.namesOffset, candidate.numSyms, limit)) continue
    const decoded = decodeNames(image, tokenBytes, candidate.namesOffset, candidate.numSyms, limit, true)
    if (decoded === undefined) continue
    for (const resolved of placements(image, tokens, candidate)) {
      const addressing = addressingOf(image, resolved)
      const table = buildTable(image, resolved, decoded.names, addressing)
      const outside = symbolsOutsideImage(image, table)
      if (outside * 4 > table.size) {
        tried.push(`${candidate.numSyms} names at ${hex(image.base + BigInt(candidate.namesOffset))} (${resolved.order}, ${addressing}): ${outside} addresses outside the kernel window`)
        continue
      }
      const markersOffset = decoded.markersOffset ?? decoded.endOffset
      const seqs = findSeqsOfNames(image, tokens, resolved, markersOffset, decoded.names)
      return { table, layout: layoutOf(image, tokens, resolved, addressing, markersOffset, seqs) }
    }
    if (tried.length === 0) tried.push(`${candidate.numSyms} names at ${hex(image.base + BigInt(candidate.namesOffset))} decode, but no offsets table fits them`)
  }
  const detail = tried.length > 0 ? ` (${tried.slice(0, 3).join('; ')})` : ''
  throw new MemweaveError('os', 'not_found', `kallsyms: token table at ${hex(image.base + BigInt(tokens.tableOffset))} found, but no kallsyms_names/num_syms/offsets that decode with it${detail}; layouts tried: offsets-first and names-first, base-relative, absolute-percpu and pc-relative`)
}

interface Resolved extends Candidate {
  readonly offsetsOffset: number
}

/** Detected from the offsets themselves: no relative_base means pc-relative; mostly negative offsets mean absolute per-CPU. */
function addressingOf(image: KernelImage, candidate: Resolved): KallsymsAddressing {
  if (candidate.relativeBase === undefined) return 'pc-relative'
  let negative = 0
  for (let i = 0; i < candidate.numSyms; i++) if (image.view.getInt32(candidate.offsetsOffset + i * 4, true) < 0) negative++
  return negative * 2 > candidate.numSyms ? 'absolute-percpu' : 'base-relative'
}

function symbolsOutsideImage(image: KernelImage, table: SymbolTable): number {
  const window = imageWindow(image)
  let outside = 0
  for (let i = 0; i < table.size; i++) {
    const symbol = table.at(i)
    if (symbol === undefined) continue
    // absolute symbols (per-CPU offsets, 'A') are small numbers by design
    if (symbol.type === 'A' || symbol.type === 'a') continue
    if (symbol.addr < window.start || symbol.addr >= window.end) outside++
  }
  return outside
}

function buildTable(image: KernelImage, candidate: Resolved, names: readonly string[], addressing: KallsymsAddressing): SymbolTable {
  const table = new SymbolTable(`kallsyms in memory at ${hex(image.base + BigInt(candidate.namesOffset))}`)
  const base = candidate.relativeBase ?? 0n
  const offsetsAddr = image.base + BigInt(candidate.offsetsOffset)
  names.forEach((name, i) => {
    const raw = image.view.getInt32(candidate.offsetsOffset + i * 4, true)
    let addr: bigint
    if (addressing === 'pc-relative') addr = offsetsAddr + BigInt(i * 4 + raw)
    else if (addressing === 'base-relative') addr = base + BigInt(raw >>> 0)
    else addr = raw >= 0 ? BigInt(raw) : base - 1n - BigInt(raw)
    table.add({ name: name.slice(1), type: name.charAt(0), addr })
  })
  return table
}

/**
 * kallsyms_seqs_of_names (6.2+, and later 6.1 stable): one 3-byte big-endian
 * index per symbol, listing the symbols by name. Looked for after the markers,
 * after the offsets, and after relative_base; accepted when the first entries
 * are valid indexes whose names come out sorted.
 */
function findSeqsOfNames(image: KernelImage, tokens: TokenTable, candidate: Resolved, markersOffset: number, names: readonly string[]): number | undefined {
  const n = candidate.numSyms
  const markersEnd = markersOffset + Math.ceil(n / 256) * 4
  const offsetsEnd = candidate.offsetsOffset + n * 4
  const places = [alignUp(markersEnd, 8), alignUp(markersEnd, 4), alignUp(offsetsEnd, 8), alignUp(offsetsEnd, 8) + 8, alignUp(tokens.endOffset, 8)]
  const bytes = image.bytes
  const checked = Math.min(n, SEQS_CHECKED)
  return places.find((at) => {
    if (at + n * 3 > bytes.length) return false
    let previous: string | undefined
    for (let i = 0; i < checked; i++) {
      const seq = ((bytes[at + i * 3] ?? 0) << 16) | ((bytes[at + i * 3 + 1] ?? 0) << 8) | (bytes[at + i * 3 + 2] ?? 0)
      const name = names[seq]?.slice(1)
      if (seq >= n || name === undefined) return false
      if (previous !== undefined && name < previous) return false
      previous = name
    }
    return true
  })
}

function layoutOf(image: KernelImage, tokens: TokenTable, candidate: Resolved, addressing: KallsymsAddressing, markersOffset: number, seqs: number | undefined): KallsymsLayout {
  const at = (offset: number): bigint => image.base + BigInt(offset)
  return {
    order: candidate.order,
    addressing,
    tokenTable: at(tokens.tableOffset),
    tokenIndex: at(tokens.indexOffset),
    names: at(candidate.namesOffset),
    markers: at(markersOffset),
    offsets: at(candidate.offsetsOffset),
    relativeBase: candidate.relativeBase,
    seqsOfNames: seqs === undefined ? undefined : at(seqs),
    numSyms: candidate.numSyms,
    absolutePercpu: addressing === 'absolute-percpu',
  }
}

/** Short text for info: "names-first, pc-relative, seqs_of_names". */
export function describeLayout(layout: KallsymsLayout): string {
  return [layout.order, layout.addressing, ...(layout.relativeBase === undefined ? ['no relative_base'] : []), ...(layout.seqsOfNames !== undefined ? ['seqs_of_names'] : [])].join(', ')
}

/** Checks the decoded table against the image it came from; throws naming what is wrong. */
export function validateKallsyms(kallsyms: Kallsyms, image: KernelImage): void {
  const { table, layout } = kallsyms
  for (const name of REQUIRED_SYMBOLS) {
    if (!table.has(name)) throw new MemweaveError('os', 'malformed', `kallsyms at ${hex(layout.names)}: required symbol '${name}' missing (${table.size} symbols decoded)`)
  }
  const imageEnd = image.base + BigInt(image.bytes.length)
  if (layout.relativeBase !== undefined && (layout.relativeBase < image.base || layout.relativeBase >= imageEnd)) {
    throw new MemweaveError('os', 'malformed', `kallsyms relative_base ${hex(layout.relativeBase)} lies outside the kernel image ${hex(image.base)}..${hex(imageEnd)}`)
  }
  const banner = table.addr('linux_banner')
  if (banner >= image.base && banner + 14n <= imageEnd) {
    const at = Number(banner - image.base)
    const text = Buffer.from(image.bytes.buffer, image.bytes.byteOffset + at, 14).toString('latin1')
    if (text !== 'Linux version ') throw new MemweaveError('os', 'malformed', `kallsyms: linux_banner at ${hex(banner)} does not read "Linux version" (wrong symbol addresses?)`)
  }
}
