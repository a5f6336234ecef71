/**
 * Mount life cycle and remote trees: a mount left dead by a SIGKILLed
 * process is cleared and mounted over; a live mount is refused with what is
 * there; unmount is clean with a reader still holding a file, and after
 * someone else unmounted (the test file would hang if a handle kept this
 * process alive); and a mount
 * of a daemon's tree through the real protocol (ProtocolClient over a unix
 * socket) reads and runs control lines like the in-process one.
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { mountAt, mountTree } from '../src/frontends/fuse/index.js'
import { connectClient, LocalTreeClient, startServer } from '../src/net/index.js'
import type { ProtocolClient, RunningServer } from '../src/net/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import { PATTERN_AT, PHYS_PATTERN, childMount, fuseUnavailable, memoryImage, sh, shBytes, startShell, testLog, testNode } from './fuse-kit.js'

describe('FUSE mount life cycle', { skip: fuseUnavailable() ?? false }, () => {
  let dir: string
  let node: MemweaveNode

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-life-'))
    node = testNode({ allowWrite: false, log: testLog() })
  })

  after(async () => {
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('clears the dead mount of a SIGKILLed process and mounts again at the same place', async () => {
    const mnt = join(dir, 'stale')
    await mkdir(mnt)
    const child = await childMount(mnt)
    assert.equal((await sh(`ls ${mnt}`)).stdout, 'connector\nos\nsys\n')
    child.kill('SIGKILL')
    await child.exited
    const dead = await sh(`stat ${mnt}`)
    assert.match(dead.stderr, /Transport endpoint is not connected/)

    const mounted = await mountTree(new LocalTreeClient(node.tree), mnt, { readOnly: true, log: testLog() })
    try {
      const listing = await sh(`ls ${mnt}/sys`)
      assert.equal(listing.code, 0, listing.stderr)
      assert.match(listing.stdout, /^info$/m)
      assert.equal((await mountAt(mnt))?.fstype, 'fuse.memweave')
    } finally {
      await mounted.unmount()
    }
    assert.equal(await mountAt(mnt), undefined)
  })

  it('refuses a mountpoint where a live filesystem is mounted, naming it', async () => {
    const mnt = join(dir, 'live')
    await mkdir(mnt)
    const first = await mountTree(new LocalTreeClient(node.tree), mnt, { readOnly: true, log: testLog() })
    try {
      await assert.rejects(mountTree(new LocalTreeClient(node.tree), mnt, { readOnly: true, log: testLog() }),
        (err: unknown) => err instanceof MemweaveError && err.kind === 'busy' && err.message.includes('already a mount point (fuse.memweave'))
    } finally {
      await first.unmount()
    }
    await assert.rejects(mountTree(new LocalTreeClient(node.tree), join(dir, 'absent'), { readOnly: true, log: testLog() }),
      (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found')
  })

  it('unmounts while a reader holds a file open, and unmount twice is harmless', async () => {
    const mnt = join(dir, 'busy')
    await mkdir(mnt)
    const client = new LocalTreeClient(node.tree)
    const mounted = await mountTree(client, mnt, { readOnly: true, log: testLog() })
    // The holder opens sys/info, says so, then waits for its stdin to close.
    const holder = await startShell(`exec 3< ${mnt}/sys/info; echo ready; read -r _ || true`)
    assert.equal(node.tree.handles.size, 1)
    await mounted.unmount()
    await mounted.unmount()
    assert.equal(await mountAt(mnt), undefined)
    assert.deepEqual(node.tree.handles.summaries(), [], 'handles still open at unmount are closed')
    assert.equal(await holder.finish(), 0)
    await client.disconnect()
  })
})

describe('FUSE mount unmounted by someone else', { skip: fuseUnavailable() ?? false }, () => {
  it('unmount after an outside fusermount -u succeeds (and leaves nothing holding this process)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mw-fuse-ext-'))
    const node = testNode({ allowWrite: false, log: testLog() })
    try {
      // A name a shell would mangle: unmounting must not go through one.
      const mnt = join(dir, 'odd $(name) `x`')
      await mkdir(mnt)
      const mounted = await mountTree(new LocalTreeClient(node.tree), mnt, { readOnly: true, log: testLog() })
      assert.equal((await sh(`ls '${mnt}' && fusermount -u '${mnt}'`)).stdout, 'connector\nos\nsys\n')
      assert.equal(await mountAt(mnt), undefined)
      await mounted.unmount()
    } finally {
      await node.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('FUSE mount through the protocol', { skip: fuseUnavailable() ?? false }, () => {
  let dir: string
  let node: MemweaveNode
  let server: RunningServer
  let client: ProtocolClient
  let mnt: string
  let mounted: { unmount(): Promise<void> }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-net-'))
    mnt = join(dir, 'mnt')
    await mkdir(mnt)
    await writeFile(join(dir, 'ram.elf'), memoryImage())
    node = testNode({ allowWrite: false, log: testLog() })
    server = await startServer({ tree: node.tree, listen: [`unix:${join(dir, 'mw.sock')}`], log: testLog() })
    client = await connectClient(`unix:${join(dir, 'mw.sock')}`, { name: 'fuse' })
    mounted = await mountTree(client, mnt, { readOnly: false, log: testLog() })
  })

  after(async () => {
    await mounted?.unmount()
    await client?.disconnect()
    await server?.close()
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('creates a connector with echo, lists it after the change event, and dd reads it', async () => {
    const created = await sh(`echo "remote file:${join(dir, 'ram.elf')}" >> ${mnt}/connector/new && ls ${mnt}/connector`)
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, /^remote$/m)
    const bytes = await shBytes(`dd if=${mnt}/connector/remote/mem bs=1 skip=${PATTERN_AT} count=${PHYS_PATTERN.length} status=none`)
    assert.equal(bytes.toString(), PHYS_PATTERN)
    const refused = await sh(`echo "remote file:${join(dir, 'ram.elf')}" >> ${mnt}/connector/new`)
    assert.match(refused.stderr, /write error: File exists/)
    assert.match((await sh(`cat ${mnt}/connector/new`)).stdout, /error: '?remote file:.* already exists/)
  })

  it('sequential 1 MiB reads through the mount match the protocol read', async () => {
    const whole = await shBytes(`dd if=${mnt}/connector/remote/mem bs=1M status=none`)
    const { handle } = await client.open('connector/remote/mem')
    try {
      const [result] = await client.read(handle, [{ addr: 0n, length: whole.length }])
      assert.ok(result?.ok)
      assert.ok(Buffer.from(result.data).equals(whole))
    } finally {
      await client.close(handle)
    }
  })
})
