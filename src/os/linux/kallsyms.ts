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

export interface KallsymsLayout {
  readonly order: 'offsets-first' | 'names-first'
  readonly tokenTable: bigint
  readonly tokenIndex: bigint
  readonly names: bigint
  readonly offsets: bigint
  readonly relativeBase: bigint
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
const NAME_ALIGN = 8
/** Longest expanded name accepted (KSYM_NAME_LEN is 512 since 6.1). */
const MAX_NAME_BYTES = 1024
/** Symbols every kernel has and we rely on. */
export const REQUIRED_SYMBOLS = ['_stext', 'init_task', 'linux_banner'] as const

interface DecodedNames {
  readonly names: string[]
  readonly endOffset: number
}

/** Decodes `count` names from `offset`; undefined when the bytes are not a names table. */
function decodeNames(image: KernelImage, tokens: readonly Uint8Array[], offset: number, count: number, limit: number, markersMustFollow: boolean): DecodedNames | undefined {
  const bytes = image.bytes
  const names: string[] = new Array<string>(count)
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
    names[i] = scratch.toString('latin1', 0, used)
  }
  if (markersMustFollow && !markersMatch(image, alignUp(pos, 4), markers) && !markersMatch(image, alignUp(pos, NAME_ALIGN), markers)) return undefined
  return { names, endOffset: pos }
}

function markersMatch(image: KernelImage, at: number, markers: readonly number[]): boolean {
  if (at + markers.length * 4 > image.bytes.length) return false
  return markers.every((value, k) => image.view.getUint32(at + k * 4, true) === value)
}

/** Cheap test before a full decode: do the first names expand to "<type letter><identifier>"? */
function namesLookValid(image: KernelImage, tokens: readonly Uint8Array[], offset: number, count: number, limit: number): boolean {
  const first = decodeNames(image, tokens, offset, Math.min(count, PRECHECK_NAMES), limit, false)
  return first !== undefined && first.names.every((name) => /^[A-Za-z?][!-~]+$/.test(name))
}

/** Upper and lower u32 of an 8-byte value that is a kernel image address. */
function imagePointerAt(image: KernelImage, at: number): bigint | undefined {
  const high = image.view.getUint32(at + 4, true)
  if (high !== 0xffffffff) return undefined
  const value = image.view.getBigUint64(at, true)
  return value >= KERNEL_IMAGE_START && value < KERNEL_IMAGE_END ? value : undefined
}

interface Candidate {
  readonly order: KallsymsLayout['order']
  readonly namesOffset: number
  readonly numSyms: number
  readonly offsetsOffset: number
  readonly relativeBase: bigint
}

/** 6.1 order: relative_base then num_syms just before names, offsets before them. */
function* offsetsFirst(image: KernelImage, tokens: TokenTable): Generator<Candidate> {
  const view = image.view
  for (let at = alignUp(tokens.tableOffset, 8) - 16; at >= 0; at -= 8) {
    const relativeBase = imagePointerAt(image, at)
    if (relativeBase === undefined) continue
    const numSyms = view.getUint32(at + 8, true)
    if (numSyms < MIN_SYMS || numSyms > MAX_SYMS) continue
    const offsetsOffset = at - alignUp(numSyms * 4, 8)
    if (offsetsOffset < 0) continue
    yield { order: 'offsets-first', namesOffset: alignUp(at + 12, NAME_ALIGN), numSyms, offsetsOffset, relativeBase }
  }
}

/** Newer order: num_syms, names, markers, tokens, then offsets and relative_base after the token index. */
function* namesFirst(image: KernelImage, tokens: TokenTable): Generator<Candidate> {
  const offsetsOffset = alignUp(tokens.endOffset, 8)
  const end = Math.min(image.bytes.length - 8, offsetsOffset + MAX_SYMS * 4)
  for (let at = offsetsOffset + 8; at <= end; at += 8) {
    const relativeBase = imagePointerAt(image, at)
    if (relativeBase === undefined) continue
    for (const numSyms of [(at - offsetsOffset) / 4, (at - offsetsOffset) / 4 - 1]) {
      for (let q = alignUp(tokens.tableOffset, 8) - 8; q >= 0; q -= 8) {
        if (image.view.getUint32(q, true) !== numSyms) continue
        yield { order: 'names-first', namesOffset: q + 8, numSyms, offsetsOffset, relativeBase }
        break
      }
    }
    // Offsets are i32 values that never pair up into an image address, so the first hit is relative_base.
    return
  }
}

export function loadKallsyms(image: KernelImage): Kallsyms {
  const tokens = findTokenTable(image)
  if (tokens === undefined) {
    throw new MemweaveError('os', 'not_found', `kallsyms: no token table found in the kernel image at ${hex(image.base)} (searched ${(image.bytes.length / 2 ** 20).toFixed(1)} MiB, ${(image.mappedBytes / 2 ** 20).toFixed(1)} MiB mapped)`)
  }
  const tokenBytes = tokens.tokens.map((t) => Buffer.from(t, 'latin1'))
  for (const search of [offsetsFirst, namesFirst]) {
    for (const candidate of search(image, tokens)) {
      const limit = tokens.tableOffset
      if (!namesLookValid(image, tokenBytes, candidate.namesOffset, candidate.numSyms, limit)) continue
      const decoded = decodeNames(image, tokenBytes, candidate.namesOffset, candidate.numSyms, limit, true)
      if (decoded === undefined) continue
      const absolutePercpu = isAbsolutePercpu(image, candidate)
      return { table: buildTable(image, candidate, decoded.names, absolutePercpu), layout: layoutOf(image, tokens, candidate, absolutePercpu) }
    }
  }
  throw new MemweaveError('os', 'not_found', `kallsyms: token table at ${hex(image.base + BigInt(tokens.tableOffset))} found, but no kallsyms_names/num_syms/relative_base that decode with it`)
}

function isAbsolutePercpu(image: KernelImage, candidate: Candidate): boolean {
  let negative = 0
  for (let i = 0; i < candidate.numSyms; i++) if (image.view.getInt32(candidate.offsetsOffset + i * 4, true) < 0) negative++
  return negative * 2 > candidate.numSyms
}

function buildTable(image: KernelImage, candidate: Candidate, names: readonly string[], absolutePercpu: boolean): SymbolTable {
  const table = new SymbolTable(`kallsyms in memory at ${hex(image.base + BigInt(candidate.namesOffset))}`)
  names.forEach((name, i) => {
    const raw = image.view.getInt32(candidate.offsetsOffset + i * 4, true)
    let addr: bigint
    if (!absolutePercpu) addr = candidate.relativeBase + BigInt(raw >>> 0)
    else addr = raw >= 0 ? BigInt(raw) : candidate.relativeBase - 1n - BigInt(raw)
    table.add({ name: name.slice(1), type: name.charAt(0), addr })
  })
  return table
}

function layoutOf(image: KernelImage, tokens: TokenTable, candidate: Candidate, absolutePercpu: boolean): KallsymsLayout {
  const at = (offset: number): bigint => image.base + BigInt(offset)
  return {
    order: candidate.order,
    tokenTable: at(tokens.tableOffset),
    tokenIndex: at(tokens.indexOffset),
    names: at(candidate.namesOffset),
    offsets: at(candidate.offsetsOffset),
    relativeBase: candidate.relativeBase,
    numSyms: candidate.numSyms,
    absolutePercpu,
  }
}

/** Checks the decoded table against the image it came from; throws naming what is wrong. */
export function validateKallsyms(kallsyms: Kallsyms, image: KernelImage): void {
  const { table, layout } = kallsyms
  for (const name of REQUIRED_SYMBOLS) {
    if (!table.has(name)) throw new MemweaveError('os', 'malformed', `kallsyms at ${hex(layout.names)}: required symbol '${name}' missing (${table.size} symbols decoded)`)
  }
  const imageEnd = image.base + BigInt(image.bytes.length)
  if (layout.relativeBase < image.base || layout.relativeBase >= imageEnd) {
    throw new MemweaveError('os', 'malformed', `kallsyms relative_base ${hex(layout.relativeBase)} lies outside the kernel image ${hex(image.base)}..${hex(imageEnd)}`)
  }
  const banner = table.addr('linux_banner')
  if (banner >= image.base && banner + 14n <= imageEnd) {
    const at = Number(banner - image.base)
    const text = Buffer.from(image.bytes.buffer, image.bytes.byteOffset + at, 14).toString('latin1')
    if (text !== 'Linux version ') throw new MemweaveError('os', 'malformed', `kallsyms: linux_banner at ${hex(banner)} does not read "Linux version" (wrong symbol addresses?)`)
  }
}
