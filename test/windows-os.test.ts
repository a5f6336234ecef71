/**
 * The `windows` OS kind end to end:
 *  - the shared OsInstance suite on built images (raw with a low stub and no
 *    KDBG; PAGEDU64 bitmap with a page left out of the dump);
 *  - the two real triage dumps: header, KDBG offsets, the System EPROCESS,
 *    the driver list and ntoskrnl's section table, each checked against
 *    values this test reads from the file itself (19041 x64 structure
 *    offsets as published, not the ones the OS derived); the ARM64 dump must
 *    fail naming what it lacks;
 *  - the CLI shortcuts (ps, maps, modules, dump) on a built image.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openPath } from '../src/connectors/file/file-test-kit.js'
import { realDump } from '../src/connectors/file/windows-dump/real-dump-test-kit.js'
import { MemweaveError } from '../src/errors/index.js'
import { runOsInstanceCases } from '../src/os/os-instance.case.js'
import { buildWindowsImage } from '../src/os/windows/windows-image-kit.js'
import { containerBytes, openBuilt, openConnector, openWindows } from '../src/os/windows/windows-test-kit.js'
import { lines, runCli } from './cli-kit.js'

let dir = ''
before(async () => { dir = await mkdtemp(join(tmpdir(), 'mw-windows-e2e-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

for (const [container, options] of [['raw', { lowStub: true }], ['pagedu64-bitmap', { kdbg: true }]] as const) {
  runOsInstanceCases(`windows OS on a built ${container} image`, async () => {
    const image = buildWindowsImage({ ...options, seed: 5 })
    const caseDir = await mkdtemp(join(tmpdir(), 'mw-windows-cases-'))
    const opened = await openBuilt(caseDir, image, container)
    return {
      os: opened.os,
      expect: {
        kind: 'windows',
        processes: image.processes.map((p) => ({ pid: p.pid, ppid: p.ppid, name: p.name })),
        kernelModules: image.drivers.map((d) => d.name),
      },
      inspect: image.processes.map((p) => p.pid),
      close: async () => { await opened.close(); await rm(caseDir, { recursive: true, force: true }) },
    }
  })
}

const triageX64 = realDump('triage_x64.dmp')
if (triageX64.skip !== false) {
  describe('windows OS cases on the real x64 triage dump', { skip: triageX64.skip }, () => { it('needs the dump', () => {}) })
} else {
  const path = triageX64.path
  runOsInstanceCases('windows OS on the real x64 triage dump (kernel-virtual view)', async () => {
    const dump = await openPath(path)
    try {
      const os = await openWindows(dump)
      return {
        os,
        expect: { kind: 'windows', processes: [{ pid: 4, ppid: 0, name: 'System' }] },
        close: async () => { await os.close(); await dump.close() },
      }
    } catch (err) {
      await dump.close()
      throw err
    }
  })
}

/** What the test itself reads from a triage dump's bytes (TRIAGE_DUMP64 at 0x2000, KDDEBUGGER_DATA64, 19041 EPROCESS). */
function independentFacts(file: Buffer) {
  const kdbgAt = file.readUInt32LE(0x2000 + 0x70)
  const kernBase = file.readBigUInt64LE(kdbgAt + 0x18)
  const processAt = file.readUInt32LE(0x2000 + 0x20)
  const blocksAt = file.readUInt32LE(0x2000 + 0x78)
  let pe: Buffer | undefined
  for (let i = 0; i < file.readUInt32LE(0x2000 + 0x7c); i++) {
    if (file.readBigUInt64LE(blocksAt + i * 16) === kernBase) { const off = file.readUInt32LE(blocksAt + i * 16 + 8); pe = file.subarray(off, off + 4096) }
  }
  assert.ok(pe !== undefined, 'the dump holds the block at KernBase')
  const e = pe.readUInt32LE(0x3c)
  const sectionsAt = e + 24 + pe.readUInt16LE(e + 20)
  const sections = Array.from({ length: pe.readUInt16LE(e + 6) }, (_, i) => ({
    name: pe.subarray(sectionsAt + i * 40, sectionsAt + i * 40 + 8).toString('latin1').replace(/\0+$/, ''),
    rva: `0x${pe.readUInt32LE(sectionsAt + i * 40 + 12).toString(16)}`,
    virtualSize: `0x${pe.readUInt32LE(sectionsAt + i * 40 + 8).toString(16)}`,
  }))
  const listAt = file.readUInt32LE(0x2000 + 0x30)
  const drivers = Array.from({ length: file.readUInt32LE(0x2000 + 0x34) }, (_, i) => {
    const nameAt = file.readUInt32LE(listAt + i * 0x90)
    return { path: file.subarray(nameAt + 4, nameAt + 4 + file.readUInt32LE(nameAt) * 2).toString('utf16le'), base: file.readBigUInt64LE(listAt + i * 0x90 + 0x38) }
  })
  return {
    kernBase,
    kdbgOffsets: { sizeEprocess: file.readUInt16LE(kdbgAt + 0x2a8), peb: file.readUInt16LE(kdbgAt + 0x2aa), parentCid: file.readUInt16LE(kdbgAt + 0x2ac), dtb: file.readUInt16LE(kdbgAt + 0x2ae) },
    system: { pid: Number(file.readBigUInt64LE(processAt + 0x440)), name: file.subarray(processAt + 0x5a8, processAt + 0x5a8 + 15).toString('latin1').replace(/\0.*$/s, ''), dtb: file.readBigUInt64LE(processAt + 0x28) },
    headerDtb: file.readBigUInt64LE(0x10),
    sections,
    drivers,
  }
}

describe('windows OS on the real triage dumps', () => {
  const x64 = realDump('triage_x64.dmp')
  it('x64 (19041): header, KDBG offsets, System, drivers and ntoskrnl sections match the file', { skip: x64.skip }, async () => {
    const file = await readFile(x64.path!)
    const truth = independentFacts(file)
    const dump = await openPath(x64.path!)
    try {
      const os = await openWindows(dump)
      const info = await os.info()
      assert.equal(info['build'], 19041)
      assert.equal(info['kernelBase'], `0x${truth.kernBase.toString(16)}`)
      assert.equal(info['dtb'], `0x${truth.headerDtb.toString(16)}`)
      const kdbg = info['kdbg'] as { offsets: Record<string, string> }
      assert.deepEqual([kdbg.offsets['sizeEprocess'], kdbg.offsets['eprocessPeb'], kdbg.offsets['eprocessParentCid'], kdbg.offsets['eprocessDirectoryTableBase']],
        [truth.kdbgOffsets.sizeEprocess, truth.kdbgOffsets.peb, truth.kdbgOffsets.parentCid, truth.kdbgOffsets.dtb].map((n) => `0x${n.toString(16)}`))
      assert.deepEqual((info['ntoskrnl'] as { sections: unknown[] }).sections, truth.sections)
      const refs = await os.processes()
      assert.deepEqual(refs.map((r) => [r.pid, r.name]), [[truth.system.pid, truth.system.name]])
      assert.deepEqual([truth.system.pid, truth.system.name], [4, 'System'])
      const system = await os.process(4)
      assert.equal((await system?.info())?.dtb, truth.system.dtb)
      const limitations = info['limitations'] as string[]
      assert.ok(limitations.some((l) => /no page tables or physical pages/.test(l)), 'says what a triage dump lacks')
      assert.ok(limitations.some((l) => /process list stops after 1 process/.test(l)))
      const drivers = await os.kernelModules()
      assert.deepEqual(drivers.map((d) => [d.path, d.base]), truth.drivers.map((d) => [d.path, d.base]))
      assert.equal(drivers.length, 151)
      await os.close()
    } finally {
      await dump.close()
    }
  })

  const arm = realDump('triage_arm64.dmp')
  it('ARM64 (22000): opens the kernel-virtual view and names what the dump lacks', { skip: arm.skip }, async () => {
    const file = await readFile(arm.path!)
    const headerDtb = file.readBigUInt64LE(0x10)
    const kdbgAt = file.readUInt32LE(0x2000 + 0x70)
    const result = await runCli(['--embedded', '--with', `connector tri file:${arm.path!}`, '--with', 'os w -c tri windows', 'cat', 'os/w/info'])
    assert.equal(result.code, 0, result.stderr)
    const info = JSON.parse(result.stdout) as { arch: string; build: number; kernelBase: string; limitations: string[]; kdbg: { offsets: Record<string, string> } }
    assert.equal(info.arch, 'aarch64')
    assert.equal(info.build, 22000)
    assert.equal(info.kernelBase, `0x${file.readBigUInt64LE(kdbgAt + 0x18).toString(16)}`)
    assert.equal(info.kdbg.offsets['eprocessPeb'], `0x${file.readUInt16LE(kdbgAt + 0x2aa).toString(16)}`)
    assert.ok(info.limitations.some((l) => /ntoskrnl's PE header page .* is not in the dump/.test(l)), info.limitations.join('; '))
    const ps = await runCli(['--embedded', '--with', `connector tri file:${arm.path!}`, '--with', 'os w -c tri windows', 'ps', 'w', '--json'])
    assert.equal(ps.code, 0, ps.stderr)
    const listed = JSON.parse(ps.stdout) as { pid: number; name: string; dtb?: string }[]
    assert.deepEqual(listed.map((p) => [p.pid, p.name]), [[4, 'System']])
    const system = await runCli(['--embedded', '--with', `connector tri file:${arm.path!}`, '--with', 'os w -c tri windows', 'cat', 'os/w/processes/by-pid/4/info'])
    assert.equal(BigInt((JSON.parse(system.stdout) as { dtb: number }).dtb), headerDtb, 'System DTB is the header DTB')
  })
})

describe('CLI shortcuts on a built Windows image', () => {
  it('ps, maps, modules and dump', async () => {
    const image = buildWindowsImage({ kdbg: true, seed: 3 })
    const path = join(dir, 'cli.dmp')
    await writeFile(path, containerBytes(image, 'pagedu64-full'))
    const setup = ['--embedded', '--with', `connector win file:${path}`, '--with', 'os w -c win windows']
    const ps = await runCli([...setup, 'ps', 'w', '--json'])
    assert.equal(ps.code, 0, ps.stderr)
    const listed = JSON.parse(ps.stdout) as { pid: number; name: string; cmdline: string[] }[]
    assert.deepEqual(listed.map((p) => p.pid), [4, 88, 340, 1234, 2000])
    assert.deepEqual(listed.find((p) => p.pid === 1234)?.cmdline, image.processes.find((p) => p.pid === 1234)?.cmdline)
    const maps = await runCli([...setup, 'maps', 'w', '1234'])
    assert.equal(maps.code, 0, maps.stderr)
    assert.ok(lines(maps.stdout).some((l) => /^7ff6\w+-\w+ rwxp .*notepad\.exe$/.test(l)), maps.stdout)
    const modules = await runCli([...setup, 'modules', 'w', '1234', '--json'])
    assert.deepEqual((JSON.parse(modules.stdout) as { name: string }[]).map((m) => m.name).sort(), ['KERNEL32.DLL', 'notepad.exe', 'ntdll.dll'])
    const core = join(dir, 'notepad.core')
    const dump = await runCli([...setup, 'dump', 'w', '1234', '-o', core])
    assert.equal(dump.code, 0, dump.stderr)
    const bytes = await readFile(core)
    assert.deepEqual([...bytes.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46])
    const pattern = image.processes.find((p) => p.pid === 1234)!.pattern!
    assert.ok(bytes.includes(Buffer.from(pattern.bytes)), 'the core file holds the pattern')
  })
})

describe('hostile Windows memory', () => {
  it('a cyclic process list in a dump fails os new cleanly', async () => {
    const connector = await openConnector(dir, 'cyclic.img', containerBytes(buildWindowsImage({ cyclic: true }), 'raw'))
    try {
      await assert.rejects(openWindows(connector), (err: unknown) => err instanceof MemweaveError && /loops back/.test(err.message))
    } finally {
      await connector.close()
    }
  })
})
