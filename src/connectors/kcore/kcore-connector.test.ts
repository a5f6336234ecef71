/**
 * The kcore connector on files in kcore's format (kcore:PATH): physical
 * ranges from the direct map only (the kernel text alias is skipped),
 * reads, gaps, strict mode, notes as hints, no writes, clean refusals of
 * broken files.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import type { Connector } from '../connector.js'
import { MemweaveError } from '../../errors/index.js'
import { physAddr, readExact, readU32, writeExact } from '../../mem/index.js'
import { Lifetime, parseKindArgs } from '../../tree/index.js'
import { kcoreConnectorKind } from './kcore-connector.js'
import { parseKcore } from './kcore-layout.js'
import { NO_PADDR, PAGE_OFFSET, buildKcore, physWord, typicalKcore } from './kcore-test-kit.js'

const log = pino({ level: 'silent' })
const open = (args: string, allowWrite = false): Promise<Connector> =>
  kcoreConnectorKind.create(parseKindArgs(args), { allowWrite, log, parentLifetime: new Lifetime('test'), description: "connector 'host'" })

const fails = (kind: string, pattern: RegExp) => (err: unknown): boolean => err instanceof MemweaveError && err.kind === kind && pattern.test(err.message)

describe('kcore connector', () => {
  let dir: string
  const file = (name: string, bytes: Buffer): string => {
    const path = join(dir, name)
    writeFileSync(path, bytes)
    return path
  }

  before(() => { dir = mkdtempSync(join(tmpdir(), 'mw-kcore-')) })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('takes the direct map as physical memory and skips the kernel text alias', async () => {
    for (const extendedCount of [false, true]) {
      const bytes = typicalKcore({ extendedCount })
      const layout = await parseKcore({ name: 'typical', read: async (offset, length) => bytes.subarray(offset, offset + length) })
      assert.equal(layout.directMapBase, PAGE_OFFSET)
      assert.equal(layout.loadSegments, 5)
      assert.deepEqual(layout.ranges, [
        { start: 0x1000n, length: 0x9f000n, backing: 0x2000n },
        { start: 0x100000n, length: 0x100000n, backing: 0x100000n },
      ])
      assert.deepEqual(layout.notes.map((n) => n.name), ['CORE', 'VMCOREINFO'])
    }
  })

  it('reads physical pages, zeros in gaps, strict refusals, and hands notes to the OS layer', async () => {
    const path = file('kcore', typicalKcore())
    const host = await open(path, true)
    try {
      assert.equal(await readU32(host.mem, physAddr(0x1000n)), physWord(0x1000n))
      // 0x140000 is where the text alias points: the bytes come from the direct map, not the alias.
      assert.equal(await readU32(host.mem, physAddr(0x140000n)), physWord(0x140000n))
      assert.equal(await readU32(host.mem, physAddr(0x1fff00n)), physWord(0x1fff00n))
      assert.deepEqual(await readExact(host.mem, physAddr(0xa0000n), 8), new Uint8Array(8))
      const meta = host.mem.metadata()
      assert.deepEqual([meta.maxAddress, meta.readonly, meta.volatile], [0x200000n, true, true])
      assert.equal(host.hints.vmcoreinfo, 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\n')
      assert.equal(host.hints.elfNotes?.length, 2)
      const info = await host.info()
      assert.equal(info['directMapBase'], '0xffff888000000000')
      assert.equal(info['physicalBytes'], 0x19f000)
      await assert.rejects(writeExact(host.mem, physAddr(0x1000n), new Uint8Array(1)), fails('permission', /read-only/))
    } finally {
      await host.close()
    }
    const strict = await open(`${path},strict=true`)
    try {
      await assert.rejects(readExact(strict.mem, physAddr(0x9fff0n), 32), fails('unmapped', /0xa0000 is not RAM/))
    } finally {
      await strict.close()
    }
    await assert.rejects(readExact(strict.mem, physAddr(0x1000n), 4), fails('stale', /was closed/))
  })

  it('refuses broken or unsuitable files with clear errors', async () => {
    await assert.rejects(open(file('text', Buffer.from('not an elf file at all, but long enough to hold a header....................'))), fails('malformed', /not an ELF file/))
    const noPaddr = buildKcore([{ vaddr: PAGE_OFFSET, paddr: NO_PADDR, offset: 0x1000, size: 0x1000, fill: 1 }], [])
    await assert.rejects(open(file('nopaddr', noPaddr)), fails('unsupported', /p_paddr/))
    await assert.rejects(open(file('truncated', typicalKcore().subarray(0, 100))), fails('malformed', /truncated program header table/))
    await assert.rejects(open(join(dir, 'absent')), fails('not_found', /cannot open/))
    await assert.rejects(open(`${join(dir, 'kcore')},bogus=1`), fails('invalid_argument', /unknown argument 'bogus'/))
    if (!existsSync('/proc/kcore')) await assert.rejects(open(''), fails('not_found', /CONFIG_PROC_KCORE/))
  })
})
