import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LeafFileMap } from '../../net/index.js'
import { DIRECT_READ_LEASE_MS, DirectFile } from './direct-reads.js'

/** A file map whose object can be ended by the test; counts releases of its fd. */
function fakeMap(extents: LeafFileMap['extents'], endedAlready = false): { map: LeafFileMap; end: () => void; releases: () => number; listeners: () => number } {
  const listeners = new Set<(reason: string) => void>()
  let releases = 0
  let ended = endedAlready
  return {
    map: {
      fd: 42,
      extents,
      release: () => { releases++ },
      onEnd: (listener) => {
        if (ended) { listener('was replaced'); return () => {} }
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
    },
    end: () => { ended = true; for (const l of Array.from(listeners)) l('was replaced') },
    releases: () => releases,
    listeners: () => listeners.size,
  }
}

describe('DirectFile', () => {
  it('gives the binding triples within 2^53 and the leaf size, and releases the fd once, when taken', () => {
    const fake = fakeMap([{ addr: 0n, length: 4096n, pos: 8192 }, { addr: 4096n, length: 4096n, pos: -1 }, { addr: 1n << 53n, length: 4096n, pos: 0 }])
    const file = new DirectFile(fake.map, 8192n)
    assert.equal(file.fd, 42)
    assert.equal(file.sizeBytes, 8192)
    assert.equal(file.leaseMs, DIRECT_READ_LEASE_MS)
    assert.deepEqual([...file.extents], [0, 4096, 8192, 4096, 4096, -1])
    assert.equal(fake.releases(), 0, 'the fd stays open until the binding took it')
    file.fdTaken()
    file.fdTaken()
    assert.equal(fake.releases(), 1)
    file.revoke()
    assert.equal(fake.releases(), 1)
  })

  it('revokes once when the object ends, and tells listeners added later at once', () => {
    const fake = fakeMap([{ addr: 0n, length: 4096n, pos: 0 }])
    const file = new DirectFile(fake.map, 4096n)
    let revoked = 0
    file.onRevoke(() => { revoked++ })
    fake.end()
    assert.equal(revoked, 1)
    assert.equal(fake.releases(), 1, 'an fd never taken is released at the revoke')
    assert.equal(fake.listeners(), 0, 'no longer listening to the object')
    file.revoke()
    assert.equal(revoked, 1)
    let late = 0
    file.onRevoke(() => { late++ })
    assert.equal(late, 1)
  })

  it('is revoked from the start when the object had already ended', () => {
    const fake = fakeMap([{ addr: 0n, length: 4096n, pos: 0 }], true)
    const file = new DirectFile(fake.map, 4096n)
    let revoked = 0
    file.onRevoke(() => { revoked++ })
    assert.equal(revoked, 1)
    assert.equal(fake.releases(), 1)
  })
})
