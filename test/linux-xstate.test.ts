/**
 * NT_X86_XSTATE in cores of x86-64 guest processes, on a guest booted with
 * TCG's `-cpu max` (XSAVE, AVX; scripts/fixtures/build-xsave-dump.sh): each
 * thread's XSAVE area in standard format with XCR0 at bytes 464..471, which
 * the real gdb turns into the AVX registers (ymm0..15) while the backtraces
 * still reach main; and on the matrix's qemu64 guests (FXSAVE only) no note.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { planCoreFile, readCoreFile } from '../src/os/index.js'
import type { OsInstance } from '../src/os/index.js'
import { linuxOsKind } from '../src/os/linux/index.js'
import type { LinuxOs } from '../src/os/linux/index.js'
import { readXsaveConfig } from '../src/os/linux/x86-xstate.js'
import { parseKindArgs } from '../src/tree/index.js'
import { gdbBatch, gdbMissing } from './gdb-kit.js'
import { fixtureRoot, linuxFixtures, openDump, silentLog } from './linux-kit.js'
import type { Truth } from './linux-kit.js'

const DIR = join(fixtureRoot(), 'xsave')
const SKIP = !existsSync(join(DIR, 'dump.elf')) ? `no XSAVE guest dump in ${DIR} (run: bash scripts/fixtures/build-xsave-dump.sh)` : gdbMissing()
const NT_X86_XSTATE = 0x202
const XFEATURE_YMM = 4n

/** The notes of an ELF core: (type, desc) in file order. */
function coreNotes(core: Buffer): { type: number; desc: Buffer }[] {
  const phoff = Number(core.readBigUInt64LE(32))
  const notes: { type: number; desc: Buffer }[] = []
  for (let i = 0; i < core.readUInt16LE(56); i++) {
    const at = phoff + i * 56
    if (core.readUInt32LE(at) !== 4) continue
    const start = Number(core.readBigUInt64LE(at + 8))
    const end = start + Number(core.readBigUInt64LE(at + 32))
    for (let p = start; p < end;) {
      const nameBytes = core.readUInt32LE(p)
      const descBytes = core.readUInt32LE(p + 4)
      const descAt = p + 12 + ((nameBytes + 3) & ~3)
      notes.push({ type: core.readUInt32LE(p + 8), desc: core.subarray(descAt, descAt + descBytes) })
      p = descAt + ((descBytes + 3) & ~3)
    }
  }
  return notes
}

const openLinux = (connector: Connector): Promise<OsInstance> =>
  linuxOsKind.create(parseKindArgs(''), connector, { allowWrite: false, log: silentLog, parentLifetime: connector.lifetime, description: "os 'xsave'" })

describe('NT_X86_XSTATE: the XSAVE area of x86-64 threads (-cpu max guest)', { skip: SKIP }, () => {
  let connector: Connector
  let os: OsInstance
  let dir: string
  let core: Buffer
  const truth = SKIP === false ? JSON.parse(readFileSync(join(DIR, 'truth.json'), 'utf8')) as Truth : undefined
  const delta = truth?.testPids['delta'] ?? 0

  before(async () => {
    connector = await openDump(join(DIR, 'dump.elf'))
    os = await openLinux(connector)
    dir = await mkdtemp(join(tmpdir(), 'memweave-xstate-'))
    const process = await os.process(delta)
    assert.ok(process !== undefined)
    const layout = await planCoreFile(process)
    const [read] = await readCoreFile(layout, process.mem, [{ addr: 0n, length: Number(layout.totalBytes) }], { zeroFilledPages: 0 })
    assert.ok(read?.ok)
    core = Buffer.from(read.data)
  })

  after(async () => {
    await connector?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('each thread has a standard-format XSAVE area: XCR0 with AVX, its FXSAVE part, AVX in use', async () => {
    const threads = await (await os.process(delta))?.threads?.() ?? []
    assert.equal(threads.length, 3)
    const xstates = coreNotes(core).filter((n) => n.type === NT_X86_XSTATE)
    assert.equal(xstates.length, threads.length, 'one NT_X86_XSTATE per thread')
    for (const [i, thread] of threads.entries()) {
      const registers = thread.registers
      assert.ok(registers.arch === 'x86_64' && registers.xsave !== undefined && registers.fxsave !== undefined, `thread ${thread.tid}: ${registers.warnings.join('; ')}`)
      assert.deepEqual(registers.warnings, [])
      const xsave = Buffer.from(registers.xsave)
      const xcr0 = xsave.readBigUInt64LE(464)
      assert.ok((xcr0 & XFEATURE_YMM) !== 0n, 'XCR0 enables AVX')
      assert.equal(xsave.readBigUInt64LE(512 + 8), 0n, 'xcomp_bv 0: the standard format')
      assert.ok((xsave.readBigUInt64LE(512) & XFEATURE_YMM) !== 0n, 'the thread has AVX state (glibc uses AVX2 on this CPU)')
      assert.deepEqual(xsave.subarray(0, 464), Buffer.from(registers.fxsave).subarray(0, 464))
      assert.deepEqual(xstates[i]?.desc.length, xsave.length)
    }
  })

  it('gdb shows the AVX registers from the core and still unwinds to main', async () => {
    const path = join(dir, `core.${delta}`)
    await writeFile(path, core)
    const out = await gdbBatch(join(fixtureRoot(), 'bin', 'mw-pattern2'), ['bt', 'p $ymm0.v4_int64', 'p $xmm0.v2_int64', 'info registers ymm15'], { core: path })
    assert.match(out, /in pause \(\)[\s\S]*in main \(\)/, out)
    const ymm = /^\$1 = \{(-?\d+), (-?\d+), (-?\d+), (-?\d+)\}$/m.exec(out)
    const xmm = /^\$2 = \{(-?\d+), (-?\d+)\}$/m.exec(out)
    assert.ok(ymm !== null && xmm !== null, out)
    assert.deepEqual([ymm[1], ymm[2]], [xmm[1], xmm[2]], 'ymm0\'s low half is xmm0')
    assert.match(out, /^ymm15\s+\{/m, out)
  })
})

const QEMU64 = linuxFixtures().find((f) => f.truth.arch !== 'aarch64')

describe('NT_X86_XSTATE on an FXSAVE-only guest (qemu64)', { skip: QEMU64 === undefined ? 'no x86-64 guest dump' : false }, () => {
  it('the kernel has no XSAVE features, so threads carry FXSAVE only and no warning', async () => {
    const connector = await openDump(QEMU64?.dump ?? '')
    try {
      const os = await openLinux(connector) as LinuxOs
      const config = await readXsaveConfig(os.kernel)
      assert.ok('why' in config)
      assert.match(config.why, /no XSAVE features beyond x87\/SSE/)
      const threads = await (await os.process(QEMU64?.truth.testPids['delta'] ?? 0))?.threads?.() ?? []
      assert.ok(threads.length > 0 && threads.every((t) => t.registers.arch === 'x86_64' && t.registers.xsave === undefined && t.registers.fxsave !== undefined))
    } finally {
      await connector.close()
    }
  })
})
