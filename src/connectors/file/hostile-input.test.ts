/**
 * Hostile images: valid ELF cores and LiME files with mutated headers
 * (flipped bytes, boundary values in size and count fields, truncation).
 * Each must give either a clean MemweaveError or a working connector whose
 * reads return per-piece results, never another exception and never a hang.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../../errors/index.js'
import { physAddr } from '../../mem/index.js'
import { bufferSource } from './image-source.js'
import { writeElfCore, writeLime } from './image-writers.js'
import { parseImage } from './open-image.js'
import { openPath, patternBytes, tempDir } from './file-test-kit.js'
import type { TempDir } from './file-test-kit.js'

/** Generous bound: a hang or a runaway allocation fails the case instead of stalling the suite. */
const CASE_BOUND_MS = 5000

let dir: TempDir
before(async () => { dir = await tempDir('mw-hostile-') })
after(async () => { await dir.remove() })

const notes = [{ name: 'CORE', type: 1, desc: patternBytes(40, 1) }, { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode('PAGESIZE=4096\n') }]
const BASES: readonly Uint8Array[] = [
  writeElfCore([{ addr: 0x1000n, data: patternBytes(256, 2), memSizeBytes: 0x2000n }, { addr: 0x10000n, data: patternBytes(128, 3) }], notes),
  writeElfCore([{ addr: 0x5555_0000_0000n, data: patternBytes(64, 4) }, { addr: 0x7fff_0000_0000n, data: patternBytes(64, 5) }], [], { addressField: 'vaddr' }),
  writeLime([{ addr: 0n, data: patternBytes(100, 6) }, { addr: 0x1000n, data: patternBytes(50, 7) }, { addr: 0x9000n, data: patternBytes(10, 8) }]),
]

const BOUNDARY = [0n, 1n, 7n, 0xffffn, 0x1_0000_0000n, 1n << 52n, 1n << 63n, (1n << 64n) - 1n, 100n, 200n, 333n] as const

type Mutation =
  | { readonly kind: 'byte'; readonly at: number; readonly value: number }
  | { readonly kind: 'u64'; readonly at: number; readonly value: bigint }
  | { readonly kind: 'u16'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(400), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('u64' as const), at: fc.nat(50).map((n) => n * 8), value: fc.constantFrom(...BOUNDARY) }),
  fc.record({ kind: fc.constant('u16' as const), at: fc.nat(200).map((n) => n * 2), value: fc.constantFrom(0, 1, 56, 0xfffe, 0xffff) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(500) }),
)

function mutate(base: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = base.slice()
  for (const m of mutations) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (m.kind === 'truncate') bytes = bytes.slice(0, Math.min(m.at, bytes.length))
    else if (m.kind === 'byte' && m.at < bytes.length) bytes[m.at] = m.value
    else if (m.kind === 'u64' && m.at + 8 <= bytes.length) view.setBigUint64(m.at, m.value, true)
    else if (m.kind === 'u16' && m.at + 2 <= bytes.length) view.setUint16(m.at, m.value, true)
  }
  return bytes
}

async function bounded<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took over ${CASE_BOUND_MS} ms`)), CASE_BOUND_MS) })
  try {
    return await Promise.race([work, limit])
  } finally {
    clearTimeout(timer)
  }
}

function assertClean(err: unknown): void {
  assert.ok(err instanceof MemweaveError, `expected a MemweaveError, got ${err instanceof Error ? err.stack : String(err)}`)
  assert.ok(['malformed', 'unsupported', 'limit'].includes(err.kind), `unexpected kind ${err.kind}: ${err.message}`)
  assert.equal(err.origin, 'connector')
  assert.ok(err.message.length < 400, 'messages stay short (no dumped bytes)')
}

const input = fc.tuple(fc.nat(BASES.length - 1), fc.array(mutation, { minLength: 1, maxLength: 6 }))

describe('hostile images', () => {
  it('parsers give a layout or a clean error (fuzz)', async () => {
    await fc.assert(fc.asyncProperty(input, async ([which, mutations]) => {
      const bytes = mutate(BASES[which]!, mutations)
      try {
        const layout = await bounded(parseImage(bufferSource('/fuzz/image', bytes), 'auto'), 'parse')
        for (const r of layout.ranges) assert.ok(r.length > 0n && r.backing + r.length <= BigInt(bytes.length), 'file-backed ranges lie inside the file')
      } catch (err) {
        assertClean(err)
        assert.match((err as Error).message, /\/fuzz\/image/)
      }
    }), { numRuns: 1500 })
  })

  it('the connector opens cleanly or refuses cleanly, and reads never throw (fuzz)', async () => {
    let run = 0
    await fc.assert(fc.asyncProperty(input, fc.boolean(), async ([which, mutations], strict) => {
      const path = dir.file(`case-${run++}`)
      await writeFile(path, mutate(BASES[which]!, mutations))
      let connector
      try {
        connector = await bounded(openPath(path, strict ? 'strict=true' : ''), 'open')
      } catch (err) {
        assertClean(err)
        return
      }
      try {
        const max = connector.mem.metadata().maxAddress
        const addrs = [0n, 0x1000n, max > 16n ? max - 16n : 0n, max]
        const results = await bounded(connector.mem.read(addrs.map((a) => ({ addr: physAddr(a), length: 16 }))), 'read')
        assert.equal(results.length, addrs.length)
        for (const r of results) if (r.ok) assert.equal(r.data.length, 16)
        assert.equal(typeof (await connector.info())['format'], 'string')
      } finally {
        await connector.close()
      }
    }), { numRuns: 200 })
  })

  it('refuses absurd counts quickly without allocating for them', async () => {
    const elf = BASES[0]!.slice()
    new DataView(elf.buffer).setUint16(56, 0xfffe, true) // e_phnum far beyond the file
    const lime = writeLime([{ addr: 0n, data: patternBytes(16, 9) }])
    new DataView(lime.buffer).setBigUint64(16, (1n << 64n) - 1n, true) // a 2^64-byte range
    for (const bytes of [elf, lime]) {
      await assert.rejects(bounded(parseImage(bufferSource('/fuzz/absurd', bytes), 'auto'), 'parse'), (err: unknown) => { assertClean(err); return true })
    }
  })
})
