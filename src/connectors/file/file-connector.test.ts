/**
 * The file connector as a whole: arguments, info and hints, and its
 * lifetime: replaced, rewritten, truncated or deleted files make it stale
 * (volatile files only when replaced or deleted); close ends it.
 */
import assert from 'node:assert/strict'
import { rename, truncate, unlink, utimes, writeFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { physAddr } from '../../mem/index.js'
import { parseKindArgs } from '../../tree/index.js'
import type { Connector } from '../connector.js'
import { fileConnectorKind } from './file-connector.js'
import { DEFAULT_CHECK_AGE_MS } from './file-watch.js'
import { writeElfCore, writeLime } from './image-writers.js'
import { kindOf, openImage, openPath, patternBytes, readBytes, tempDir, testContext } from './file-test-kit.js'
import type { TempDir } from './file-test-kit.js'

let dir: TempDir
before(async () => { dir = await tempDir() })
after(async () => { await dir.remove() })

/** Waits (bounded) until the connector's lifetime ends, asking it to check now and then. */
async function staleness(c: Connector): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const reason = await c.lifetime.staleReason()
    if (reason !== undefined) return reason
    await sleep(50)
  }
  throw new Error('connector did not go stale within 5 s')
}

async function expectStaleRead(c: Connector, pattern: RegExp): Promise<void> {
  const [result] = await c.mem.read([{ addr: physAddr(0n), length: 4 }])
  assert.equal(kindOf(result), 'stale')
  assert.ok(result !== undefined && !result.ok)
  assert.match(result.error.message, /connector 'dump'/)
  assert.match(result.error.message, pattern)
}

/** A file whose mtime is in the past, so a rewrite always changes it (mtime granularity is coarse). */
async function agedFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = dir.file(name)
  await writeFile(path, bytes)
  const past = new Date(Date.now() - 60_000)
  await utimes(path, past, past)
  return path
}

describe('file connector arguments', () => {
  const rejects = async (raw: string, kind: string, pattern: RegExp): Promise<void> => {
    await assert.rejects(fileConnectorKind.create(parseKindArgs(raw), testContext()), (err: unknown) => {
      assert.ok(err instanceof MemweaveError)
      assert.equal(err.kind, kind)
      assert.match(err.message, pattern)
      return true
    })
  }

  it('refuses missing paths, bad options, directories and missing files', async () => {
    await rejects('format=raw', 'invalid_argument', /PATH is required/)
    await rejects(`${dir.path}/x,format=vmdk`, 'invalid_argument', /format must be/)
    await rejects(`${dir.path}/x,colour=red`, 'invalid_argument', /unknown argument 'colour'/)
    await rejects(`${dir.path}/nope.bin`, 'not_found', /cannot open .*nope\.bin/)
    await rejects(dir.path, 'invalid_argument', /not a regular file/)
  })

  it('opens as the requested format, or says why not', async () => {
    const image = writeLime([{ addr: 0x1000n, data: patternBytes(64, 1) }])
    const asRaw = await openImage(dir, 'as-raw.lime', image, 'format=raw')
    try {
      assert.equal((await asRaw.info())['format'], 'raw')
      assert.equal(asRaw.mem.metadata().maxAddress, BigInt(image.length))
    } finally { await asRaw.close() }
    await assert.rejects(openImage(dir, 'as-elf.lime', image, 'format=elf'), /not an ELF file/)
    await assert.rejects(openImage(dir, 'empty.bin', new Uint8Array(0)), /empty/)
  })
})

describe('file connector info and hints', () => {
  it('describes an ELF core: ranges, notes, VMCOREINFO', async () => {
    const info = 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\n'
    const notes = [{ name: 'CORE', type: 1, desc: patternBytes(336, 2) }, { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode(`${info}\0\0`) }]
    const c = await openImage(dir, 'info.elf', writeElfCore([{ addr: 0n, data: patternBytes(0x1000, 3), memSizeBytes: 0x2000n }, { addr: 0x100000n, data: patternBytes(0x1000, 4) }], notes))
    try {
      assert.equal(c.kind, 'file')
      assert.equal(c.hints.vmcoreinfo, info)
      assert.deepEqual(c.hints.elfNotes?.map((n) => n.name), ['CORE', 'VMCOREINFO'])
      const facts = await c.info()
      assert.equal(facts['kind'], 'file')
      assert.equal(facts['format'], 'elf')
      assert.equal(facts['physicalBytes'], 0x3000)
      assert.equal(facts['maxAddress'], '0x101000')
      assert.deepEqual(facts['ranges'], [{ start: '0x0', end: '0x2000', sizeBytes: 0x2000 }, { start: '0x100000', end: '0x101000', sizeBytes: 0x1000 }])
      assert.deepEqual(facts['notes'], [{ name: 'CORE', type: 1, size: 336 }, { name: 'VMCOREINFO', type: 0, size: info.length + 2 }])
      assert.equal(facts['readonly'], true)
      assert.equal(facts['strict'], false)
      assert.equal(facts['volatile'], false)
      await readBytes(c, 0n, 16)
      assert.deepEqual((await c.info())['stats'], { reads: 1, pieces: 1, bytesRead: 16, preads: 1, preadBytes: 16, zeroFilledBytes: 0, failedPieces: 0, writes: 0, bytesWritten: 0 })
    } finally { await c.close() }
  })

  it('caps the range list and says so', async () => {
    const ranges = Array.from({ length: 1500 }, (_, i) => ({ addr: BigInt(i) * 0x2000n, data: Uint8Array.of(i & 0xff) }))
    const c = await openImage(dir, 'many.lime', writeLime(ranges))
    try {
      const facts = await c.info()
      assert.equal(facts['rangeCount'], 1500)
      assert.equal(facts['rangesTruncated'], true)
      assert.equal(Array.isArray(facts['ranges']) ? facts['ranges'].length : -1, 1024)
    } finally { await c.close() }
  })
})

describe('file connector staleness', () => {
  it('goes stale when the file is replaced (renamed over); a new open sees the new file', async () => {
    const path = await agedFile('replaced.bin', patternBytes(4096, 5))
    const c = await openPath(path)
    try {
      assert.deepEqual(await readBytes(c, 0n, 4), patternBytes(4, 5))
      await writeFile(`${path}.new`, patternBytes(4096, 6))
      await rename(`${path}.new`, path)
      assert.match(await staleness(c), /was replaced on disk \(inode changed\)/)
      await expectStaleRead(c, /replaced on disk/)
      const fresh = await openPath(path)
      try {
        assert.deepEqual(await readBytes(fresh, 0n, 4), patternBytes(4, 6))
      } finally { await fresh.close() }
    } finally { await c.close() }
  })

  it('goes stale when the file is rewritten in place, truncated or deleted', async () => {
    const rewritten = await agedFile('rewritten.bin', patternBytes(4096, 7))
    const truncated = await agedFile('truncated.bin', patternBytes(4096, 8))
    const deleted = await agedFile('deleted.bin', patternBytes(4096, 9))
    const [a, b, c] = await Promise.all([openPath(rewritten), openPath(truncated), openPath(deleted)])
    try {
      await writeFile(rewritten, patternBytes(4096, 10))
      await truncate(truncated, 100)
      await unlink(deleted)
      assert.match(await staleness(a), /modified on disk/)
      assert.match(await staleness(b), /modified on disk \(size 4096 -> 100 bytes\)/)
      assert.match(await staleness(c), /was deleted from disk/)
      await expectStaleRead(c, /deleted/)
    } finally { await Promise.all([a.close(), b.close(), c.close()]) }
  })

  it('in volatile mode, sees content changes without going stale, but not deletion', async () => {
    const path = await agedFile('guest-ram.bin', patternBytes(8192, 11))
    const c = await openPath(path, 'volatile=true')
    try {
      assert.equal(c.mem.metadata().volatile, true)
      await writeFile(path, patternBytes(8192, 12))
      await sleep(DEFAULT_CHECK_AGE_MS + 50) // let a fresh check run, so "not stale" means something
      assert.deepEqual(await readBytes(c, 0n, 8), patternBytes(8, 12), 'reads are never cached')
      assert.equal(await c.lifetime.staleReason(), undefined)
      await unlink(path)
      assert.match(await staleness(c), /was deleted from disk/)
    } finally { await c.close() }
  })

  it('ends with its parent, and on close', async () => {
    const context = testContext()
    const path = await agedFile('parent.bin', patternBytes(4096, 13))
    const c = await fileConnectorKind.create(parseKindArgs(path), context)
    context.parentLifetime.end('was shut down')
    assert.equal(c.lifetime.ended, true)
    await expectStaleRead(c, /was shut down/)
    await c.close()
    const d = await openPath(path)
    await d.close()
    await d.close()
    assert.equal(d.lifetime.ended, true)
    await expectStaleRead(d, /was closed/)
  })
})
