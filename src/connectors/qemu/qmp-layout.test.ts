/**
 * Parsing `info mtree -f`: only the flat view of the "memory" address
 * space counts; ranges are inclusive in the text; offsets into RAM blocks
 * follow '@'; I/O regions are not memory.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { parseFlatView } from './qmp-layout.js'

// Trimmed from QEMU 7.2 (q35, 6 GiB: 2 GiB low, 4 GiB from 4 GiB).
const MTREE = `FlatView #0
 AS "mch", root: bus master container
 Root memory region: (none)
  No rendered FlatView

FlatView #1
 AS "I/O", root: io
 Root memory region: io
  0000000000000000-0000000000000007 (prio 0, i/o): dma-chan
  0000000000000510-0000000000000511 (prio 0, i/o): fwcfg

FlatView #2
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-00000000000c2fff (prio 0, ram): pc.ram KVM
  00000000000c3000-00000000000e7fff (prio 0, rom): pc.ram @00000000000c3000 KVM
  0000000000100000-000000007fffffff (prio 0, ram): pc.ram @0000000000100000 KVM
  00000000b0000000-00000000bfffffff (prio 0, i/o): pcie-mmcfg-mmio
  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios KVM
  0000000100000000-000000017fffffff (prio 0, ram): pc.ram @0000000080000000 KVM

FlatView #3
 AS "cpu-smm-0", root: memory
 Root memory region: memory
  0000000000000000-00000000000c2fff (prio 0, ram): smram-alias
`

describe('info mtree -f', () => {
  it('lists the regions of the "memory" flat view with their block offsets', () => {
    const regions = parseFlatView(MTREE)
    assert.deepEqual(regions.map((r) => [r.start, r.end, r.type, r.name, r.offset]), [
      [0n, 0xc3000n, 'ram', 'pc.ram', 0n],
      [0xc3000n, 0xe8000n, 'rom', 'pc.ram', 0xc3000n],
      [0x100000n, 0x80000000n, 'ram', 'pc.ram', 0x100000n],
      [0xb0000000n, 0xc0000000n, 'i/o', 'pcie-mmcfg-mmio', 0n],
      [0xfffc0000n, 0x100000000n, 'rom', 'pc.bios', 0n],
      [0x100000000n, 0x180000000n, 'ram', 'pc.ram', 0x80000000n],
    ])
  })

  it('refuses output without a flat view of the address space', () => {
    assert.throws(() => parseFlatView('FlatView #0\n AS "I/O", root: io\n'), (err: unknown) => err instanceof MemweaveError && err.kind === 'malformed')
  })
})
