/**
 * The kcore connector's memory runs the shared MemoryView suite on a small
 * file in /proc/kcore's format (the test kit's typical layout: two
 * direct-map ranges whose bytes are their own physical addresses), in
 * default mode (gaps read as zeros) and strict mode (gaps fail 'unmapped').
 * kcore never writes, even when the node allows writes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { runMemoryViewCases } from '../../mem/memory-view.case.js'
import type { ExpectedRead, MemoryViewCaseSetup } from '../../mem/memory-view.case.js'
import { Lifetime, parseKindArgs } from '../../tree/index.js'
import { kcoreConnectorKind } from './kcore-connector.js'
import { physWord, typicalKcore } from './kcore-test-kit.js'

/** Physical RAM of typicalKcore(): the direct-map ranges. */
const RAM = [{ start: 0x1000n, end: 0xa0000n }, { start: 0x100000n, end: 0x200000n }]
const MAX_ADDRESS = 0x200000n

function kcoreOracle(strict: boolean): (addr: bigint, length: number) => ExpectedRead {
  return (addr, length) => {
    if (addr + BigInt(length) > MAX_ADDRESS) return 'out_of_bounds'
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) {
      const a = addr + BigInt(i)
      if (!RAM.some((r) => a >= r.start && a < r.end)) { if (strict) return 'unmapped'; continue }
      out[i] = (physWord(a & ~3n) >>> (8 * Number(a & 3n))) & 0xff
    }
    return out
  }
}

function setupFor(strict: boolean): () => Promise<MemoryViewCaseSetup> {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-kcore-cases-'))
    const path = join(dir, 'kcore')
    await writeFile(path, typicalKcore())
    const context = { allowWrite: true, log: pino({ level: 'silent' }), parentLifetime: new Lifetime('test'), description: "connector 'host'" }
    const connector = await kcoreConnectorKind.create(parseKindArgs(strict ? `${path},strict=true` : path), context)
    return {
      mem: connector.mem,
      expected: kcoreOracle(strict),
      writable: false,
      boundaries: RAM.flatMap((r) => [r.start, r.end]).concat(0x140000n),
      writeAt: [0x1000n, 0x100000n],
      close: async () => { await connector.close(); await rm(dir, { recursive: true, force: true }) },
    }
  }
}

runMemoryViewCases('kcore connector mem (default: gaps read as zeros)', setupFor(false))
runMemoryViewCases('kcore connector mem (strict)', setupFor(true))
