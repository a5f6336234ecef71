/**
 * Real QEMU dump-guest-memory cores (built by scripts/fixtures/build-guests.sh
 * into the fixture cache): the file connector finds the RAM layout, the
 * VMCOREINFO note, and the same VMCOREINFO text inside guest physical memory
 * where the guest said it keeps it. Skipped when the fixtures are not built.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { openPath, readBytes } from '../src/connectors/file/file-test-kit.js'

const CACHE = process.env['MEMWEAVE_CACHE'] ?? resolve(import.meta.dirname, '..', '.cache', 'fixtures')
const INDEX = join(CACHE, 'index.json')

interface FixtureEntry { release: string; variant: string; dump: string; truth: string }
interface Truth { arch?: string; ramBytes: number; vmcoreinfoSysfs: { physAddr: string; size: number }; dump: { vmcoreinfoNote: boolean } }

function fixtures(): FixtureEntry[] {
  if (!existsSync(INDEX)) return []
  const index: unknown = JSON.parse(readFileSync(INDEX, 'utf8'))
  const list = typeof index === 'object' && index !== null && 'fixtures' in index && Array.isArray(index.fixtures) ? (index.fixtures as FixtureEntry[]) : []
  return list.filter((f) => existsSync(join(CACHE, f.dump)) && existsSync(join(CACHE, f.truth)))
}

const found = fixtures()
const text = new TextDecoder()

describe('file connector on QEMU dump-guest-memory cores', { skip: found.length === 0 ? `no fixtures in ${CACHE}: run scripts/fixtures/build-guests.sh` : false }, () => {
  for (const fixture of found) {
    it(`${fixture.release}/${fixture.variant}: layout, notes and in-memory VMCOREINFO`, async () => {
      const truth = JSON.parse(readFileSync(join(CACHE, fixture.truth), 'utf8')) as Truth
      const connector = await openPath(join(CACHE, fixture.dump))
      try {
        const info = await connector.info()
        assert.equal(info['format'], 'elf')
        assert.equal(info['addressing'], 'physical')
        assert.ok(Number(info['physicalBytes']) >= truth.ramBytes, 'PT_LOADs cover guest RAM')
        assert.ok(connector.hints.elfNotes?.some((n) => n.name === 'CORE' && n.type === 1), 'NT_PRSTATUS note')
        // QEMU writes its own CPU-state notes (CR3, CR4, …) for x86 guests only
        if (truth.arch !== 'aarch64') assert.ok(connector.hints.elfNotes?.some((n) => n.name === 'QEMU'), 'QEMU CPU state note')

        // The kernel keeps its VMCOREINFO as an ELF note in RAM: header, "VMCOREINFO\0" padded to 12, then the text.
        const noteAddr = BigInt(truth.vmcoreinfoSysfs.physAddr)
        const header = await readBytes(connector, noteAddr, 24)
        const view = new DataView(header.buffer, header.byteOffset, 24)
        assert.equal(view.getUint32(0, true), 11)
        assert.equal(text.decode(header.subarray(12, 22)), 'VMCOREINFO')
        const inMemory = text.decode(await readBytes(connector, noteAddr + 24n, view.getUint32(4, true)))
        assert.ok(inMemory.startsWith(`OSRELEASE=${fixture.release}\n`), inMemory.slice(0, 60))

        if (truth.dump.vmcoreinfoNote) {
          assert.equal(connector.hints.vmcoreinfo, inMemory, 'the dump note carries the same text as guest memory')
        } else {
          assert.equal(connector.hints.vmcoreinfo, undefined)
        }
      } finally {
        await connector.close()
      }
    })
  }
})
