/**
 * Hostile crash dumps: built PAGEDU64 full, bitmap and triage dumps and a
 * PAGEDUMP full dump with fuzzed header fields (run counts and page counts,
 * bitmap sizes, block tables, driver counts, offsets) and truncation. Each
 * must parse into ranges inside the file or fail with a clean connector
 * error, quickly and without allocating for absurd counts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../../../errors/index.js'
import { patternBytes } from '../file-test-kit.js'
import { bufferSource } from '../image-source.js'
import { parseImage } from '../open-image.js'
import { writeTriageDump, writeWindowsDump } from './dump-writers.js'

const ranges = [{ addr: 0n, data: patternBytes(0x2000, 1) }, { addr: 0x9000n, data: patternBytes(0x1000, 2) }]
const kdbg = patternBytes(0x380, 3)
const BASES: readonly Uint8Array[] = [
  writeWindowsDump(ranges, { layout: 'full' }),
  writeWindowsDump(ranges, { layout: 'bitmap' }),
  writeWindowsDump(ranges, { layout: 'full', bits: 32 }),
  writeTriageDump([{ addr: 0xfffff80000001000n, data: patternBytes(0x100, 4) }, { addr: 0xfffff80000003000n, data: patternBytes(0x40, 5) }],
    { kdbg, kdDebuggerDataBlock: 0xfffff80000010000n, drivers: [{ path: '\\SystemRoot\\system32\\ntoskrnl.exe', base: 0xfffff80000000000n, sizeBytes: 0x10000 }] }),
]

/** Offsets of the fields a hostile file would bend: counts, sizes and offsets of each layout. */
const FIELDS = [
  0x64, 0x68, 0x6c, 0x70, // 32-bit run count, pages, first run
  0x88, 0x90, 0x98, 0xa0, 0xa8, // 64-bit run count, pages, first runs
  0xf88, 0xf98, // dump types
  0x2020, 0x2028, 0x2030, 0x2038, // bitmap FirstPage, present, Pages, bitmap
  0x2020 + 0x10, 0x2030 + 0x4, 0x2070, 0x2074, 0x2078, 0x207c, // triage driver/pool/debugger/blocks
] as const
const VALUES = [0n, 1n, 0x2bn, 0x2cn, 0xffffn, 0x7fffffffn, 0xffffffffn, 1n << 40n, (1n << 64n) - 1n] as const

type Mutation =
  | { readonly kind: 'field32'; readonly at: number; readonly value: bigint }
  | { readonly kind: 'field64'; readonly at: number; readonly value: bigint }
  | { readonly kind: 'byte'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('field32' as const), at: fc.constantFrom(...FIELDS), value: fc.constantFrom(...VALUES) }),
  fc.record({ kind: fc.constant('field64' as const), at: fc.constantFrom(...FIELDS), value: fc.constantFrom(...VALUES) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(0x2200), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(0x4000) }),
)

function mutate(base: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = base.slice()
  for (const m of mutations) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (m.kind === 'truncate') bytes = bytes.slice(0, Math.min(m.at, bytes.length))
    else if (m.kind === 'byte' && m.at < bytes.length) bytes[m.at] = m.value
    else if (m.kind === 'field32' && m.at + 4 <= bytes.length) v.setUint32(m.at, Number(m.value & 0xffffffffn), true)
    else if (m.kind === 'field64' && m.at + 8 <= bytes.length) v.setBigUint64(m.at, m.value, true)
  }
  return bytes
}

function assertClean(err: unknown): void {
  assert.ok(err instanceof MemweaveError, `expected a MemweaveError, got ${err instanceof Error ? err.stack : String(err)}`)
  assert.ok(['malformed', 'unsupported', 'limit'].includes(err.kind), `unexpected kind ${err.kind}: ${err.message}`)
  assert.equal(err.origin, 'connector')
  assert.ok(err.message.length < 400, 'messages stay short')
}

describe('hostile Windows crash dumps', () => {
  it('parse into ranges inside the file or fail cleanly (fuzz)', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(BASES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 5 }), async (which, mutations) => {
      const bytes = mutate(BASES[which]!, mutations)
      const started = performance.now()
      try {
        const layout = await parseImage(bufferSource('/fuzz/crash.dmp', bytes), 'auto')
        for (const r of layout.ranges) if (r.backing >= 0n) assert.ok(r.backing + r.length <= BigInt(bytes.length), 'file-backed ranges lie inside the file')
      } catch (err) {
        assertClean(err)
      }
      // Not a timing assertion on speed, a bound against runaway loops over absurd counts.
      assert.ok(performance.now() - started < 5000, 'a hostile header is handled in bounded time')
    }), { numRuns: 1000 })
  })

  it('absurd counts are refused before anything is allocated for them', async () => {
    const runsPastEnd = BASES[0]!.slice()
    new DataView(runsPastEnd.buffer).setBigUint64(0xa0, 1n << 40n, true) // run #0: 2^40 pages
    const bitmapHuge = BASES[1]!.slice()
    new DataView(bitmapHuge.buffer).setBigUint64(0x2030, (1n << 64n) - 1n, true) // Pages: 2^64-1 bits
    const blocksHuge = BASES[3]!.slice()
    new DataView(blocksHuge.buffer).setUint32(0x207c, 0xffffffff, true) // DataBlocksCount
    const tooManyRuns = BASES[0]!.slice()
    new DataView(tooManyRuns.buffer).setUint32(0x88, 0x7fffffff, true)
    for (const [bytes, pattern] of [[runsPastEnd, /run #0/], [bitmapHuge, /bitmap/], [blocksHuge, /triage data blocks|data block table/], [tooManyRuns, /runs/]] as const) {
      await assert.rejects(parseImage(bufferSource('/fuzz/absurd.dmp', bytes), 'auto'), (err: unknown) => { assertClean(err); assert.match((err as Error).message, pattern); return true })
    }
  })
})
