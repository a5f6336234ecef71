/**
 * MeteredMemory over BufferMemory runs the shared MemoryView suite
 * (writable and read-only); afterwards the counters must have seen the
 * failed pieces and the written bytes the cases sent through.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BufferMemory } from './buffer-memory.js'
import { caseBytes, flatOracle, runMemoryViewCases } from './memory-view.case.js'
import { MeteredMemory } from './metrics.js'

const metered: MeteredMemory<bigint>[] = []

for (const readonly of [false, true]) {
  runMemoryViewCases(`MeteredMemory over BufferMemory (${readonly ? 'read-only' : 'writable'})`, async () => {
    const bytes = caseBytes(0x7001, 5)
    const mem = new MeteredMemory(new BufferMemory(bytes, { readonly }))
    metered.push(mem)
    return { mem, expected: flatOracle(bytes), writable: !readonly, boundaries: [0x1000n, 0x3000n] }
  })
}

test('the counters saw every batch the cases sent', () => {
  assert.ok(metered.length > 0)
  for (const m of metered) {
    assert.ok(m.stats.readFailures <= m.stats.readPieces)
    assert.ok(m.stats.writeFailures <= m.stats.writePieces)
  }
  assert.ok(metered.some((m) => m.stats.readFailures > 0), 'failed pieces were counted')
  assert.ok(metered.some((m) => m.stats.writeBytes > 0), 'written bytes were counted')
})
