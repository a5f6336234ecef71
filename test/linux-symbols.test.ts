/**
 * The linux kind's alternative symbol source and its arguments: a
 * /proc/kallsyms text (addresses already slid) and a System.map (link-time
 * addresses, slid by the _text found in memory) give the same guest as the
 * in-memory kallsyms; broken files and arguments are refused clearly.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { formatMaps } from '../src/os/index.js'
import type { OsInstance } from '../src/os/index.js'
import { linuxOsKind } from '../src/os/linux/index.js'
import type { KernelSymbol, LinuxOs } from '../src/os/linux/index.js'
import { Lifetime, parseKindArgs } from '../src/tree/index.js'
import { linuxFixtures, NO_FIXTURES_REASON, openDump, silentLog, truthWithLateKernelThreads } from './linux-kit.js'
import { isKind } from './error-kit.js'

const FIXTURE = linuxFixtures().find((f) => f.variant === 'plain') ?? linuxFixtures()[0]
const IMAGE_START = 0xffffffff80000000n
const IMAGE_END = 0xffffffffc0000000n

function openLinux(connector: Connector | undefined, args: string): Promise<OsInstance> {
  return linuxOsKind.create(parseKindArgs(args), connector, {
    allowWrite: false, log: silentLog, description: "os 'symbols'", parentLifetime: connector?.lifetime ?? new Lifetime('test'),
  })
}

function symbolLines(symbols: readonly KernelSymbol[], slide: bigint): string {
  return symbols.map((s) => {
    const addr = s.addr >= IMAGE_START && s.addr < IMAGE_END ? s.addr - slide : s.addr
    return `${addr.toString(16).padStart(16, '0')} ${s.type} ${s.name}\n`
  }).join('')
}

describe('linux:symbols=PATH and argument checks', { skip: FIXTURE === undefined ? NO_FIXTURES_REASON : false }, () => {
  let dump: Connector
  let reference: LinuxOs
  let dir: string

  before(async () => {
    dump = await openDump(FIXTURE!.dump)
    reference = await openLinux(dump, '') as LinuxOs
    dir = await mkdtemp(join(tmpdir(), 'mw-linux-symbols-'))
  })

  after(async () => {
    await reference.close()
    await dump.close()
    await rm(dir, { recursive: true, force: true })
  })

  for (const [label, slidden] of [['a /proc/kallsyms text', true], ['a System.map with link-time addresses', false]] as const) {
    it(`opens the same guest from ${label}`, async () => {
      const truth = FIXTURE!.truth
      const slide = slidden ? 0n : BigInt(truth.kaslr.textSlide)
      const path = join(dir, slidden ? 'kallsyms' : 'System.map')
      await writeFile(path, symbolLines(reference.kernel.symbols.all(), slide))
      const os = await openLinux(dump, `symbols=${path}`) as LinuxOs
      try {
        const info = await os.info()
        assert.match(String(info['symbolSource']), new RegExp(`^symbols file ${path} \\(slide 0x${slide.toString(16)}\\)$`))
        assert.equal(info['kernelBase'], truth.kaslr.text)
        for (const [name, address] of Object.entries(truth.kallsyms)) assert.equal(`0x${os.kernel.symbols.addr(name).toString(16)}`, address, name)
        const refs = await os.processes()
        assert.deepEqual(refs.map((p) => [p.pid, p.ppid, p.name]), truthWithLateKernelThreads(truth, refs).map((p) => [p.pid, p.ppid, p.name]))
        for (const [pid, text] of Object.entries(truth.maps)) assert.equal(formatMaps(await (await os.process(Number(pid)))!.maps()), text)
      } finally {
        await os.close()
      }
    })
  }

  it('refuses missing, zeroed and malformed symbol files, naming the file', async () => {
    await assert.rejects(openLinux(dump, `symbols=${join(dir, 'absent')}`), isKind('not_found', /cannot read symbols file .*absent/))
    const zeroed = join(dir, 'zeroed')
    await writeFile(zeroed, '0000000000000000 T _text\n0000000000000000 D init_task\n')
    await assert.rejects(openLinux(dump, `symbols=${zeroed}`), isKind('malformed', /addresses are all zero/))
    const garbage = join(dir, 'garbage')
    await writeFile(garbage, 'ffffffff81000000 T _text\nthis is not a symbol line\n')
    await assert.rejects(openLinux(dump, `symbols=${garbage}`), isKind('malformed', /garbage:2: not an "address type name" line/))
    const partial = join(dir, 'partial')
    await writeFile(partial, 'ffffffff81000000 T _text\n')
    await assert.rejects(openLinux(dump, `symbols=${partial}`), isKind('not_found', /partial lacks required symbols: _stext, init_task, linux_banner, __start_BTF, __stop_BTF/))
  })

  it('refuses unknown arguments, kaslr other than auto, and a missing connector', async () => {
    await assert.rejects(openLinux(dump, 'colour=blue'), isKind('invalid_argument', /unknown argument 'colour'/))
    await assert.rejects(openLinux(dump, 'kaslr=off'), isKind('invalid_argument', /kaslr='off' is not supported/))
    await assert.rejects(openLinux(dump, 'dtb=banana'), isKind('invalid_argument', /'dtb' must be an integer/))
    await assert.rejects(openLinux(undefined, ''), isKind('invalid_argument', /needs a connector/))
  })
})
