/**
 * The shared suite every MemoryView implementation runs (docs/architecture.md §8):
 * batch shape, reads against an oracle (seeded random batches crossing
 * pages and range edges, zero-length pieces, duplicates, any order),
 * per-piece failures, metadata, and writes (refused when read-only, else
 * read back with neighbours untouched), and readInto (the same reads
 * written into a caller's buffer at given offsets, nothing else touched,
 * through the view's own readInto or the read() fallback). Each implementation's test file
 * calls runMemoryViewCases with a setup that builds a fresh view and the
 * oracle that says what every read must return.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { MemweaveError } from '../errors/index.js'
import type { ErrorKind } from '../errors/index.js'
import { hex } from './address.js'
import type { MemoryView, PieceResult, ReadIntoPiece, ReadIntoResult, ReadPiece, WriteResult } from './memory-view.js'
import { readInto } from './read-into.js'

/** What a read must return: its bytes (possibly shorter than asked, for views that read short at their end), or its error's kind. */
export type ExpectedRead = Uint8Array | ErrorKind

export interface MemoryViewCaseSetup {
  readonly mem: MemoryView
  /** The oracle: what reading [addr, addr+length) returns now. Must not share the view's code. */
  expected(addr: bigint, length: number): ExpectedRead
  /** Whether writes are allowed; metadata().readonly must say the opposite. */
  readonly writable: boolean
  /** Addresses where the layout changes (range edges, holes): random pieces cluster around them. Default: 0 and maxAddress. */
  readonly boundaries?: readonly bigint[]
  /** Starts of at least 64 writable bytes (writable views). Default: the first boundary where the oracle gives 64 bytes. */
  readonly writeAt?: readonly bigint[]
  /** The page size random pieces should cross (default 4096). */
  readonly pageBytes?: number
  close?(): Promise<void>
}

export interface MemoryViewCaseOptions {
  /** Case key (MEMORY_VIEW_CASES) → why it is skipped for this implementation. */
  readonly skip?: Readonly<Partial<Record<MemoryViewCaseKey, string>>>
  /** fast-check seed; default MEMWEAVE_CASE_SEED from the environment, else a fixed one. */
  readonly seed?: number
  readonly numRuns?: number
}

export const MEMORY_VIEW_CASES = {
  metadata: 'metadata is sane',
  empty: 'an empty batch gives an empty result',
  order: 'one result per piece, in request order',
  random: 'random batches equal the oracle',
  zeroLength: 'zero-length pieces follow the oracle',
  isolation: 'a failing piece fails alone, with its own kind',
  writes: 'writes are refused when read-only, else read back with neighbours untouched',
  readInto: 'readInto writes each piece into the caller\'s buffer, per-piece results, nothing else touched',
} as const

export type MemoryViewCaseKey = keyof typeof MEMORY_VIEW_CASES
type CaseKey = MemoryViewCaseKey

/** Deterministic bytes that differ within and between pages. */
export function caseBytes(size: number, seed = 1): Uint8Array {
  return new Uint8Array(size).map((_, i) => (i * 31 + (i >> 12) * 7 + seed) & 0xff)
}

/** Oracle for a flat byte array from address 0: a copy of its bytes now, or out_of_bounds past its end. */
export function flatOracle(bytes: Uint8Array): (addr: bigint, length: number) => ExpectedRead {
  const copy = bytes.slice()
  return (addr, length) => (addr + BigInt(length) > BigInt(copy.length) ? 'out_of_bounds' : copy.slice(Number(addr), Number(addr) + length))
}

const WRITE_BYTES = 48
const NEIGHBOUR_BYTES = 16

/** Registers the shared cases under describe(name). */
export function runMemoryViewCases(name: string, setup: () => Promise<MemoryViewCaseSetup>, options: MemoryViewCaseOptions = {}): void {
  const known = new Set<string>(Object.keys(MEMORY_VIEW_CASES))
  for (const [key, reason] of Object.entries(options.skip ?? {})) {
    if (!known.has(key)) throw new MemweaveError('mem', 'invalid_argument', `skip names an unknown case '${key}'`)
    if (typeof reason !== 'string' || reason.trim() === '') throw new MemweaveError('mem', 'invalid_argument', `skipping '${key}' needs a reason`)
  }
  // A fixed seed so failures reproduce; MEMWEAVE_CASE_SEED explores others.
  const seed = options.seed ?? Number(process.env['MEMWEAVE_CASE_SEED'] ?? 0x5eed)
  const numRuns = options.numRuns ?? 40
  const bodies: Record<CaseKey, (s: MemoryViewCaseSetup) => Promise<void>> = {
    metadata: checkMetadata,
    empty: checkEmpty,
    order: checkOrder,
    random: (s) => checkRandom(s, seed, numRuns),
    zeroLength: checkZeroLength,
    isolation: checkIsolation,
    writes: (s) => checkWrites(s, seed),
    readInto: (s) => checkReadInto(s, seed, numRuns),
  }
  describe(`${name}: MemoryView cases`, () => {
    for (const [key, title] of Object.entries(MEMORY_VIEW_CASES) as [CaseKey, string][]) {
      it(title, { skip: options.skip?.[key] ?? false }, async () => {
        const s = await setup()
        try {
          await bodies[key](s)
        } finally {
          await s.close?.()
        }
      })
    }
  })
}

function boundariesOf(s: MemoryViewCaseSetup): bigint[] {
  const max = s.mem.metadata().maxAddress
  const list = s.boundaries ?? [0n, max]
  return [...new Set([0n, ...list, max])].filter((a) => a >= 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

function label(piece: ReadPiece): string {
  return `${hex(piece.addr)}+${piece.length}`
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

/** Asserts one result against the oracle; messages name offsets, never bytes. */
function checkResult(piece: ReadPiece, result: PieceResult | undefined, expected: ExpectedRead, where: string): void {
  assert.ok(result !== undefined, `${where}: no result for ${label(piece)}`)
  if (typeof expected === 'string') {
    assert.ok(!result.ok, `${where}: ${label(piece)} should fail with '${expected}' but read ${result.ok ? result.data.length : 0} bytes`)
    assert.ok(result.error instanceof MemweaveError, `${where}: ${label(piece)} failed with something other than a MemweaveError`)
    assert.equal(result.error.kind, expected, `${where}: ${label(piece)} failed with '${result.error.kind}' (${result.error.message}), expected '${expected}'`)
    return
  }
  assert.ok(result.ok, `${where}: ${label(piece)} should read ${expected.length} bytes but failed: ${result.ok ? '' : `${result.error.kind}: ${result.error.message}`}`)
  assert.ok(result.data instanceof Uint8Array, `${where}: ${label(piece)} data is not a Uint8Array`)
  assert.equal(result.data.length, expected.length, `${where}: ${label(piece)} length`)
  const diff = firstDifference(result.data, expected)
  assert.equal(diff, -1, `${where}: ${label(piece)} differs from the oracle at offset ${diff}`)
}

async function readAndCheck(s: MemoryViewCaseSetup, pieces: readonly ReadPiece[], where: string): Promise<PieceResult[]> {
  const expected = pieces.map((p) => s.expected(p.addr, p.length)) // before the read: a live oracle must not see later writes
  const results = await s.mem.read(pieces)
  assert.ok(Array.isArray(results), `${where}: read did not return an array`)
  assert.equal(results.length, pieces.length, `${where}: one result per piece`)
  pieces.forEach((piece, i) => checkResult(piece, results[i], expected[i]!, `${where} piece ${i}`))
  return results
}

async function checkMetadata(s: MemoryViewCaseSetup): Promise<void> {
  const meta = s.mem.metadata()
  assert.equal(typeof meta.maxAddress, 'bigint')
  assert.ok(meta.maxAddress > 0n, `maxAddress ${meta.maxAddress} must be positive`)
  assert.ok(Number.isSafeInteger(meta.idealBatchSize) && meta.idealBatchSize >= 1, `idealBatchSize ${meta.idealBatchSize}`)
  assert.equal(typeof meta.readonly, 'boolean')
  assert.equal(typeof meta.volatile, 'boolean')
  assert.equal(meta.readonly, !s.writable, 'metadata().readonly says whether writes are allowed')
  // Reading must not change what metadata says (a size known only after a read would be a lie before it).
  await s.mem.read([{ addr: 0n, length: 1 }])
  assert.deepEqual(s.mem.metadata(), meta)
}

async function checkEmpty(s: MemoryViewCaseSetup): Promise<void> {
  assert.deepEqual(await s.mem.read([]), [])
  assert.deepEqual(await s.mem.write([]), [])
}

async function checkOrder(s: MemoryViewCaseSetup): Promise<void> {
  const page = BigInt(s.pageBytes ?? 4096)
  const around = boundariesOf(s).flatMap((b) => [b, b - 3n, b + page - 5n]).filter((a) => a >= 0n)
  // Descending addresses, distinct lengths, the first piece repeated last: results must follow the request.
  const pieces = around.reverse().map((addr, i) => ({ addr, length: 1 + ((i * 37) % 200) }))
  if (pieces[0] !== undefined) pieces.push(pieces[0])
  await readAndCheck(s, pieces, 'ordered batch')
}

function pieceArbitrary(s: MemoryViewCaseSetup): fc.Arbitrary<ReadPiece> {
  const page = s.pageBytes ?? 4096
  const anchors = boundariesOf(s)
  const max = s.mem.metadata().maxAddress
  const anchor = fc.constantFrom(...anchors)
  const near = fc.tuple(anchor, fc.integer({ min: -2 * page, max: 2 * page })).map(([a, d]) => a + BigInt(d))
  const anywhere = fc.bigInt({ min: 0n, max: max + BigInt(page) })
  const addr = fc.oneof({ arbitrary: near, weight: 4 }, { arbitrary: anywhere, weight: 1 }).map((a) => (a < 0n ? 0n : a))
  const length = fc.oneof(
    { arbitrary: fc.constantFrom(0, 1, 7, 8, 100, page - 1, page, page + 1, 3 * page + 5), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 3 * page }), weight: 3 },
    { arbitrary: fc.integer({ min: 4 * page, max: 12 * page }), weight: 1 }, // big pieces: caches may pass these through
  )
  return fc.record({ addr, length })
}

async function checkRandom(s: MemoryViewCaseSetup, seed: number, numRuns: number): Promise<void> {
  const batch = fc.tuple(fc.array(pieceArbitrary(s), { minLength: 1, maxLength: 24 }), fc.array(fc.nat(), { maxLength: 4 }))
    .map(([pieces, repeats]) => [...pieces, ...repeats.map((r) => pieces[r % pieces.length]!)]) // duplicates of earlier pieces
  await fc.assert(fc.asyncProperty(batch, async (pieces) => { await readAndCheck(s, pieces, 'random batch') }), { seed, numRuns })
}

async function checkZeroLength(s: MemoryViewCaseSetup): Promise<void> {
  const pieces = boundariesOf(s).flatMap((b) => [{ addr: b, length: 0 }, { addr: b + 1n, length: 0 }])
  const results = await readAndCheck(s, pieces, 'zero-length batch')
  for (const r of results) if (r.ok) assert.equal(r.data.length, 0)
}

/** Pieces the oracle says fail: just past the end, across the end, and in holes near the boundaries. */
function failingPieces(s: MemoryViewCaseSetup): { piece: ReadPiece; kind: ErrorKind }[] {
  const max = s.mem.metadata().maxAddress
  const page = BigInt(s.pageBytes ?? 4096)
  const candidates: ReadPiece[] = [{ addr: max, length: 1 }, { addr: max + page, length: 8 }, { addr: max > 4n ? max - 4n : 0n, length: 8 }]
  for (const b of boundariesOf(s)) for (const d of [-page, -8n, 0n, 8n, page]) if (b + d >= 0n) candidates.push({ addr: b + d, length: 16 })
  const out: { piece: ReadPiece; kind: ErrorKind }[] = []
  for (const piece of candidates) {
    const kind = s.expected(piece.addr, piece.length)
    if (typeof kind === 'string' && !out.some((o) => o.piece.addr === piece.addr)) out.push({ piece, kind })
  }
  return out
}

/** Pieces the oracle says succeed with data, near the boundaries. */
function goodPieces(s: MemoryViewCaseSetup): ReadPiece[] {
  const out: ReadPiece[] = []
  for (const b of boundariesOf(s)) {
    for (const d of [0n, 16n, -32n]) {
      const piece = { addr: b + d, length: 16 }
      if (piece.addr >= 0n && typeof s.expected(piece.addr, piece.length) !== 'string') out.push(piece)
    }
  }
  return out.slice(0, 16)
}

async function checkIsolation(s: MemoryViewCaseSetup): Promise<void> {
  const bad = failingPieces(s)
  const good = goodPieces(s)
  assert.ok(bad.length > 0, 'the oracle names at least one failing piece (past maxAddress)')
  assert.ok(good.length > 0, 'the oracle names at least one readable piece')
  // good, bad, good, bad, ...: every failure sits between successes.
  const pieces: ReadPiece[] = []
  const count = Math.max(bad.length, good.length)
  for (let i = 0; i < count; i++) {
    pieces.push(good[i % good.length]!)
    pieces.push(bad[i % bad.length]!.piece)
  }
  pieces.push(good[0]!)
  await readAndCheck(s, pieces, 'mixed batch')
  // Each failing piece alone gives the same kind as inside the batch.
  for (const { piece, kind } of bad) {
    const [alone] = await s.mem.read([piece])
    checkResult(piece, alone, kind, 'alone')
  }
}

function writeKind(result: WriteResult | undefined): string {
  if (result === undefined) return 'missing'
  if (result.ok) return 'ok'
  assert.ok(result.error instanceof MemweaveError, 'a failed write carries a MemweaveError')
  return result.error.kind
}

function writeTargets(s: MemoryViewCaseSetup): bigint[] {
  if (s.writeAt !== undefined) return [...s.writeAt]
  const found = boundariesOf(s).find((b) => typeof s.expected(b, WRITE_BYTES + NEIGHBOUR_BYTES) !== 'string')
  return found === undefined ? [] : [found]
}

async function checkWrites(s: MemoryViewCaseSetup, seed: number): Promise<void> {
  const meta = s.mem.metadata()
  const targets = writeTargets(s)
  assert.ok(targets.length > 0, 'there is somewhere to try a write')
  const max = meta.maxAddress
  const pastEnd = { addr: max, data: new Uint8Array(1) }
  const pastEndKind = s.expected(max, 1)
  if (!s.writable) {
    const results = await s.mem.write(targets.map((addr) => ({ addr, data: new Uint8Array(WRITE_BYTES) })))
    assert.deepEqual(results.map(writeKind), targets.map(() => 'permission'), 'a read-only view refuses writes with permission')
    for (const addr of targets) await readAndCheck(s, [{ addr, length: WRITE_BYTES }], 'after a refused write')
    return
  }
  let x = seed >>> 0 || 1
  const data = targets.map(() => Uint8Array.from({ length: WRITE_BYTES }, () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x >>> 24 }))
  const neighbours = targets.flatMap((addr) => [
    { addr: addr - BigInt(NEIGHBOUR_BYTES), length: NEIGHBOUR_BYTES },
    { addr: addr + BigInt(WRITE_BYTES), length: NEIGHBOUR_BYTES },
  ]).filter((p) => p.addr >= 0n && !targets.some((t) => p.addr + BigInt(p.length) > t && p.addr < t + BigInt(WRITE_BYTES)))
  const before = neighbours.map((p) => s.expected(p.addr, p.length))
  const pieces = [...targets.map((addr, i) => ({ addr, data: data[i]! })), pastEnd, { addr: targets[0]!, data: new Uint8Array(0) }]
  const results = await s.mem.write(pieces)
  assert.equal(results.length, pieces.length, 'one write result per piece')
  assert.deepEqual(results.map(writeKind), [...targets.map(() => 'ok'), typeof pastEndKind === 'string' ? pastEndKind : 'out_of_bounds', 'ok'],
    'writes into the view succeed; a piece past the end fails alone')
  const readBack = await s.mem.read(targets.map((addr) => ({ addr, length: WRITE_BYTES })))
  targets.forEach((addr, i) => checkResult({ addr, length: WRITE_BYTES }, readBack[i], data[i]!, 'read back'))
  const after = await s.mem.read(neighbours)
  neighbours.forEach((p, i) => checkResult(p, after[i], before[i]!, 'neighbour after the write'))
}

const CANARY = 0xa5

/** Places pieces in a target with a few canary bytes between them (and some pieces overlapping none). */
function placeWithGaps(pieces: readonly ReadPiece[], gaps: readonly number[]): { placed: ReadIntoPiece[]; target: Uint8Array } {
  let at = 0
  const placed = pieces.map((p, i) => {
    at += gaps[i % Math.max(1, gaps.length)] ?? 0
    const piece = { addr: p.addr, length: p.length, at }
    at += p.length
    return piece
  })
  return { placed, target: new Uint8Array(at + 13).fill(CANARY) }
}

async function readIntoAndCheck(s: MemoryViewCaseSetup, pieces: readonly ReadPiece[], gaps: readonly number[], where: string): Promise<void> {
  const expected = pieces.map((p) => s.expected(p.addr, p.length))
  const { placed, target } = placeWithGaps(pieces, gaps)
  const results: ReadIntoResult[] = await readInto(s.mem, placed, target)
  assert.equal(results.length, pieces.length, `${where}: one result per piece`)
  const written = new Uint8Array(target.length)
  placed.forEach((piece, i) => {
    const r = results[i]
    const want = expected[i]!
    assert.ok(r !== undefined, `${where}: no result for ${label(piece)}`)
    if (typeof want === 'string') {
      assert.ok(!r.ok, `${where} piece ${i}: ${label(piece)} should fail with '${want}'`)
      assert.ok(r.error instanceof MemweaveError && r.error.kind === want, `${where} piece ${i}: ${label(piece)} failed with '${r.ok ? '' : r.error.kind}', expected '${want}'`)
      written.fill(1, piece.at, piece.at + piece.length) // unspecified after a failure
      return
    }
    assert.ok(r.ok, `${where} piece ${i}: ${label(piece)} should read ${want.length} bytes but failed: ${r.ok ? '' : `${r.error.kind}: ${r.error.message}`}`)
    assert.equal(r.length, want.length, `${where} piece ${i}: ${label(piece)} length`)
    const diff = firstDifference(target.subarray(piece.at, piece.at + r.length), want)
    assert.equal(diff, -1, `${where} piece ${i}: ${label(piece)} differs from the oracle at offset ${diff}`)
    written.fill(1, piece.at, piece.at + piece.length) // a short read leaves its tail unspecified
  })
  for (let i = 0; i < target.length; i++) {
    if (written[i] === 0) assert.equal(target[i], CANARY, `${where}: target byte ${i} outside every piece was changed`)
  }
}

async function checkReadInto(s: MemoryViewCaseSetup, seed: number, numRuns: number): Promise<void> {
  await readIntoAndCheck(s, [], [], 'empty readInto')
  // Failing pieces between readable ones, in one batch.
  const bad = failingPieces(s).map((b) => b.piece)
  const good = goodPieces(s)
  await readIntoAndCheck(s, good.flatMap((g, i) => [g, bad[i % Math.max(1, bad.length)] ?? g]), [0, 3], 'mixed readInto')
  const batch = fc.tuple(fc.array(pieceArbitrary(s), { minLength: 1, maxLength: 16 }), fc.array(fc.integer({ min: 0, max: 17 }), { maxLength: 5 }))
  await fc.assert(fc.asyncProperty(batch, async ([pieces, gaps]) => { await readIntoAndCheck(s, pieces, gaps, 'random readInto') }), { seed, numRuns: Math.max(1, Math.floor(numRuns / 2)) })
  // A target too small is the caller's bug: refused before anything is read.
  await assert.rejects(readInto(s.mem, [{ addr: 0n, length: 8, at: 4 }], new Uint8Array(8)), (err: unknown) => err instanceof MemweaveError && err.kind === 'invalid_argument')
}
