/**
 * kallsyms decoding against a seeded fake: a builder lays out the tables as
 * scripts/kallsyms.c does (6.1 order with and without seqs_of_names, the
 * newer names-first order), with one-character tokens at their own codes,
 * multi-character tokens in the unused codes, 1- and 2-byte name lengths and
 * ABSOLUTE_PERCPU offsets; the decoder must give back exactly the input.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { seededRandom } from '../../arch/testing.js'
import { loadKallsyms, validateKallsyms } from './kallsyms.js'
import type { KernelImage } from './kernel-image.js'

interface FakeSymbol { readonly name: string; readonly type: string; readonly addr: bigint }

const BASE = 0xffffffff9a000000n
const MULTI_TOKENS = ['_', 'ing', 'init_', '__', 'task', 'kallsyms_', 'ptr', 'set_', 'get_', '_lock', 'do_', 'sys_']

class Writer {
  readonly bytes: Uint8Array
  readonly view: DataView
  pos = 0
  constructor(size: number, random: () => number) {
    this.bytes = new Uint8Array(size)
    for (let i = 0; i < size; i++) this.bytes[i] = Math.floor(random() * 256)
    this.view = new DataView(this.bytes.buffer)
  }
  align(n: number): void { while (this.pos % n !== 0) this.bytes[this.pos++] = 0 }
  u8(v: number): void { this.bytes[this.pos++] = v }
  u16(v: number): void { this.view.setUint16(this.pos, v, true); this.pos += 2 }
  u32(v: number): void { this.view.setUint32(this.pos, v >>> 0, true); this.pos += 4 }
  i32(v: number): void { this.view.setInt32(this.pos, v, true); this.pos += 4 }
  u64(v: bigint): void { this.view.setBigUint64(this.pos, v, true); this.pos += 8 }
  raw(b: Uint8Array): void { this.bytes.set(b, this.pos); this.pos += b.length }
}

/** One-character tokens at their own codes (as the kernel keeps used characters), multi-character ones elsewhere. */
function tokenTable(): string[] {
  const tokens: string[] = []
  let multi = 0
  for (let code = 0; code < 256; code++) {
    if (code >= 0x21 && code < 0x7f) { tokens.push(String.fromCharCode(code)); continue }
    tokens.push(`${MULTI_TOKENS[multi % MULTI_TOKENS.length] ?? '_'}${'x'.repeat(Math.floor(multi / MULTI_TOKENS.length))}`)
    multi++
  }
  return tokens
}

function encode(text: string, tokens: readonly string[]): number[] {
  const out: number[] = []
  for (let at = 0; at < text.length;) {
    let best = text.charCodeAt(at)
    let length = 1
    tokens.forEach((token, code) => { if (token.length > length && text.startsWith(token, at)) { best = code; length = token.length } })
    out.push(best)
    at += length
  }
  return out
}

/** Lays out the tables inside random bytes; returns the image with the banner and symbols in place. */
function buildImage(symbols: readonly FakeSymbol[], order: 'offsets-first' | 'names-first', seqs: boolean, seed: number, pcRelative = false): KernelImage {
  const random = seededRandom(seed)
  const w = new Writer(1 << 21, random)
  const tokens = tokenTable()
  const names = symbols.map((s) => encode(s.type + s.name, tokens))
  const writeOffsets = (): void => {
    w.align(8)
    if (pcRelative) {
      // no relative_base: each entry is relative to its own address (newest kernels)
      for (const s of symbols) w.i32(Number(s.addr - (BASE + BigInt(w.pos))))
      if (seqs) writeSeqs()
      return
    }
    for (const s of symbols) w.i32(s.addr < 0x100000000n ? Number(s.addr) : Number(BASE - 1n - s.addr))
    w.align(8)
    w.u64(BASE)
  }
  // kallsyms_seqs_of_names: symbol indexes sorted by name, 3 bytes big-endian each
  const writeSeqs = (): void => {
    w.align(8)
    const sorted = symbols.map((s, i) => [s.name, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
    for (const [, i] of sorted) { w.u8(i >> 16); w.u8((i >> 8) & 0xff); w.u8(i & 0xff) }
  }
  const writeNames = (): void => {
    if (!pcRelative) w.align(8)
    const markers: number[] = []
    const start = w.pos
    names.forEach((encoded, i) => {
      if (i % 256 === 0) markers.push(w.pos - start)
      if (encoded.length > 0x7f) { w.u8((encoded.length & 0x7f) | 0x80); w.u8(encoded.length >> 7) } else w.u8(encoded.length)
      w.raw(Uint8Array.from(encoded))
    })
    w.align(8)
    for (const m of markers) w.u32(m)
    if (seqs && !pcRelative) writeSeqs()
  }
  const writeTokens = (): void => {
    w.align(8)
    const offsets: number[] = []
    const start = w.pos
    for (const token of tokens) { offsets.push(w.pos - start); w.raw(Buffer.from(`${token}\0`, 'latin1')) }
    w.align(8)
    for (const o of offsets) w.u16(o)
  }
  w.pos = 0x10000
  if (order === 'offsets-first') {
    writeOffsets(); w.align(8); w.u32(symbols.length); writeNames(); writeTokens()
  } else {
    w.align(8)
    if (pcRelative) w.u32(0x2e302e36) // a string's tail just before num_syms: the names are not 8-aligned
    w.u32(symbols.length); writeNames(); writeTokens(); writeOffsets()
  }
  const banner = symbols.find((s) => s.name === 'linux_banner')
  if (banner !== undefined) w.bytes.set(Buffer.from('Linux version 6.1.0-fake (test)\0'), Number(banner.addr - BASE))
  return { base: BASE, bytes: w.bytes, view: w.view, mappedBytes: w.bytes.length, failedReads: 0 }
}

function fakeSymbols(count: number, seed: number): FakeSymbol[] {
  const random = seededRandom(seed)
  const out: FakeSymbol[] = [
    { name: '__per_cpu_start', type: 'A', addr: 0n },
    { name: 'current_task', type: 'A', addr: 0x1fb80n },
    { name: '_text', type: 'T', addr: BASE },
    { name: '_stext', type: 'T', addr: BASE },
    { name: 'init_task', type: 'D', addr: BASE + 0x100000n },
    { name: 'linux_banner', type: 'D', addr: BASE + 0x8000n },
    { name: `very_long_${'name_'.repeat(60)}for_two_byte_lengths`, type: 't', addr: BASE + 0x200n },
  ]
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789_.'
  for (let i = out.length; i < count; i++) {
    let name = ['do_', 'sys_', 'init_', 'get_', ''][i % 5] ?? ''
    const length = 3 + Math.floor(random() * 20)
    for (let k = 0; k < length; k++) name += letters[Math.floor(random() * letters.length)]
    out.push({ name: `${name}${i}`, type: 'tTdDbBrR'[i % 8] ?? 't', addr: BASE + BigInt(Math.floor(random() * 0x1000000)) })
  }
  return out
}

describe('kallsyms decoding (seeded fakes)', () => {
  const layouts = [
    { order: 'offsets-first', seqs: false, pcRelative: false, addressing: 'absolute-percpu' },
    { order: 'offsets-first', seqs: true, pcRelative: false, addressing: 'absolute-percpu' },
    { order: 'names-first', seqs: false, pcRelative: false, addressing: 'absolute-percpu' },
    { order: 'names-first', seqs: true, pcRelative: true, addressing: 'pc-relative' },
  ] as const
  for (const { order, seqs, pcRelative, addressing } of layouts) {
    it(`${order}, ${addressing}${seqs ? ' with seqs_of_names' : ''}: every name, type and address comes back, layout detected`, () => {
      for (const seed of [1, 2, 3]) {
        const symbols = fakeSymbols(1000 + seed * 37, seed)
        const image = buildImage(pcRelative ? symbols.filter((s) => s.addr >= BASE) : symbols, order, seqs, seed, pcRelative)
        const kallsyms = loadKallsyms(image)
        validateKallsyms(kallsyms, image)
        assert.equal(kallsyms.layout.order, order)
        assert.equal(kallsyms.layout.addressing, addressing)
        assert.equal(kallsyms.layout.relativeBase, pcRelative ? undefined : BASE)
        assert.equal(kallsyms.layout.seqsOfNames !== undefined, seqs)
        const expected = pcRelative ? symbols.filter((s) => s.addr >= BASE) : symbols
        assert.deepEqual(kallsyms.table.all().map((s) => [s.name, s.type, s.addr]), expected.map((s) => [s.name, s.type, s.addr]))
        if (!pcRelative) assert.equal(kallsyms.table.addr('current_task'), 0x1fb80n)
      }
    })
  }

  it('refuses an image whose token table is gone, saying where it searched', () => {
    const image = buildImage(fakeSymbols(600, 9), 'offsets-first', false, 9)
    const digits = Buffer.from(image.bytes).indexOf(Buffer.from('0\x001\x002\x00', 'latin1'))
    image.bytes.fill(0, digits - 200, digits + 2000)
    assert.throws(() => loadKallsyms(image), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found'
      && err.message.startsWith('kallsyms: no token table found in the kernel image at 0xffffffff9a000000 (searched 2.0 MiB'))
  })

  it('refuses names that do not decode with the token table', () => {
    const symbols = fakeSymbols(600, 11)
    const image = buildImage(symbols, 'offsets-first', false, 11)
    // Break the names table: every length byte of the first names becomes zero.
    const at = Buffer.from(image.bytes).indexOf(Buffer.from([symbols.length & 0xff, symbols.length >> 8, 0, 0]))
    image.bytes.fill(0, at + 8, at + 8 + 64)
    assert.throws(() => loadKallsyms(image), /token table at 0x[0-9a-f]+ found, but no kallsyms_names/)
  })

  it('validation insists on _stext, init_task and a readable linux_banner', () => {
    const symbols = fakeSymbols(600, 5)
    const image = buildImage(symbols, 'offsets-first', false, 5)
    const bannerAt = Number((symbols.find((s) => s.name === 'linux_banner')?.addr ?? 0n) - BASE)
    image.bytes.fill(0x41, bannerAt, bannerAt + 14)
    assert.throws(() => validateKallsyms(loadKallsyms(image), image), /linux_banner at 0x[0-9a-f]+ does not read "Linux version"/)
    const without = buildImage(symbols.filter((s) => s.name !== 'init_task'), 'offsets-first', false, 5)
    assert.throws(() => validateKallsyms(loadKallsyms(without), without), /required symbol 'init_task' missing/)
  })
})
