/**
 * Finding kallsyms_token_table and kallsyms_token_index in a kernel image.
 * The token table is 256 NUL-terminated strings; every character used in
 * symbol names stays a one-character token at its own code, so "0".."9" sit
 * at indexes 0x30..0x39 as the byte run "0\0" "1\0" … "9\0". From such a run
 * we walk back 0x30 tokens to the table start, forward to its end, and accept
 * it only if the next (aligned) 256 u16 values are exactly the tokens' offsets.
 */
import type { KernelImage } from './kernel-image.js'

export interface TokenTable {
  /** Image offsets of kallsyms_token_table and kallsyms_token_index. */
  readonly tableOffset: number
  readonly indexOffset: number
  /** Offset just past the token index. */
  readonly endOffset: number
  readonly tokens: readonly string[]
}

const TOKEN_COUNT = 256
const DIGIT_INDEX = 0x30
const DIGIT_RUN = Buffer.from('0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00', 'latin1')
/** The token index is aligned like every kallsyms table (8 on 64-bit; smaller alignments accepted too). */
const INDEX_ALIGNMENTS = [8, 4, 2] as const
/** Longest token accepted (real ones are a few characters; a guard against walking through garbage). */
const MAX_TOKEN_BYTES = 64
/** Candidates checked before giving up (each check is cheap; garbage rarely looks like digits). */
const MAX_CANDIDATES = 4096

function isTokenByte(byte: number): boolean {
  return byte >= 0x20 && byte < 0x7f
}

/** Start offset of the token ending just before `end` (a NUL at end-1), or -1. */
function tokenStartBefore(bytes: Uint8Array, end: number): number {
  if (end < 2 || bytes[end - 1] !== 0) return -1
  let pos = end - 2
  const limit = Math.max(0, end - 1 - MAX_TOKEN_BYTES)
  while (pos >= limit && bytes[pos] !== 0) {
    if (!isTokenByte(bytes[pos] ?? 0)) return -1
    pos--
  }
  const start = pos + 1
  return start < end - 1 ? start : -1
}

function checkCandidate(image: KernelImage, digitsAt: number): TokenTable | undefined {
  const bytes = image.bytes
  let start = digitsAt
  for (let i = 0; i < DIGIT_INDEX; i++) {
    start = tokenStartBefore(bytes, start)
    if (start < 0) return undefined
  }
  const starts: number[] = []
  let pos = start
  for (let i = 0; i < TOKEN_COUNT; i++) {
    const tokenStart = pos
    while (pos < bytes.length && pos - tokenStart <= MAX_TOKEN_BYTES && bytes[pos] !== 0) {
      if (!isTokenByte(bytes[pos] ?? 0)) return undefined
      pos++
    }
    if (pos >= bytes.length || bytes[pos] !== 0 || pos === tokenStart) return undefined
    starts.push(tokenStart - start)
    pos++
  }
  for (const alignment of INDEX_ALIGNMENTS) {
    const indexOffset = alignUp(pos, alignment)
    if (indexOffset + TOKEN_COUNT * 2 > bytes.length) continue
    if (starts.every((offset, i) => image.view.getUint16(indexOffset + i * 2, true) === offset)) {
      const tokens = starts.map((offset, i) => {
        const next = i + 1 < starts.length ? (starts[i + 1] ?? 0) - 1 : pos - start - 1
        return Buffer.from(bytes.buffer, bytes.byteOffset + start + offset, next - offset).toString('latin1')
      })
      return { tableOffset: start, indexOffset, endOffset: indexOffset + TOKEN_COUNT * 2, tokens }
    }
  }
  return undefined
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment
}

/** The validated token table, or undefined when the image holds none. */
export function findTokenTable(image: KernelImage): TokenTable | undefined {
  const haystack = Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength)
  let from = 0
  for (let tried = 0; tried < MAX_CANDIDATES; tried++) {
    const at = haystack.indexOf(DIGIT_RUN, from)
    if (at < 0) return undefined
    const found = checkCandidate(image, at)
    if (found !== undefined) return found
    from = at + 1
  }
  return undefined
}
