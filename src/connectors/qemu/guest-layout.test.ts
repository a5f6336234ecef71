/**
 * Guest RAM placement per board, checked against the examples QEMU's own
 * sources give for pc (pc_piix.c) and the q35 rule (pc_q35.c).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { guestRamLayout, machineFamily } from './guest-layout.js'

const MIB = 1n << 20n
const GIB = 1n << 30n
const FOUR_GIB = 4n * GIB

/** [guestStart, length, blockOffset] triples in MiB. */
function layout(type: string, ram: bigint, maxRamBelow4g?: bigint): bigint[][] {
  const { family, version } = machineFamily(type, 'qemu-system-x86_64')
  return guestRamLayout(family, version, ram, maxRamBelow4g).ranges.map((r) => [r.guestStart / MIB, r.length / MIB, r.blockOffset / MIB])
}

describe('guest RAM layout rules', () => {
  it('pc (i440fx): QEMU\'s documented examples', () => {
    assert.deepEqual(layout('pc-1.7', 4n * GIB), [[0n, 3584n, 0n], [4096n, 512n, 3584n]])
    assert.deepEqual(layout('pc', 4n * GIB), [[0n, 3072n, 0n], [4096n, 1024n, 3072n]])
    assert.deepEqual(layout('pc', 4n * GIB, 2n * GIB), [[0n, 2048n, 0n], [4096n, 2048n, 2048n]])
    assert.deepEqual(layout('pc-i440fx-7.2', 3968n * MIB, FOUR_GIB), [[0n, 3968n, 0n]])
    assert.deepEqual(layout('pc', 3n * GIB), [[0n, 3072n, 0n]])
  })

  it('q35: all low below 2.75 GiB, else 2 GiB low and the rest from 4 GiB', () => {
    assert.deepEqual(layout('q35', 512n * MIB), [[0n, 512n, 0n]])
    assert.deepEqual(layout('pc-q35-7.2', 2816n * MIB - MIB), [[0n, 2815n, 0n]])
    assert.deepEqual(layout('q35', 2816n * MIB), [[0n, 2048n, 0n], [4096n, 768n, 2048n]])
    assert.deepEqual(layout('q35', 8n * GIB), [[0n, 2048n, 0n], [4096n, 6144n, 2048n]])
    assert.deepEqual(layout('pc-q35-1.7', 4n * GIB), [[0n, 2816n, 0n], [4096n, 1280n, 2816n]])
    assert.deepEqual(layout('q35', 2n * GIB, GIB), [[0n, 1024n, 0n], [4096n, 1024n, 1024n]])
  })

  it('defaults to pc on x86 and virt on arm; refuses boards it does not know', () => {
    assert.equal(machineFamily(undefined, 'qemu-system-x86_64').family, 'pc')
    assert.equal(machineFamily(undefined, 'qemu-system-aarch64').family, 'virt')
    const virt = guestRamLayout('virt', undefined, GIB)
    assert.deepEqual(virt.ranges, [{ guestStart: GIB, length: GIB, blockOffset: 0n }])
    assert.throws(() => machineFamily('microvm', 'qemu-system-x86_64'), (err: unknown) => err instanceof MemweaveError && err.kind === 'unsupported' && /qmp=SOCKET/.test(err.message))
  })
})
