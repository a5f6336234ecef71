/**
 * Exclusive handles end to end over real daemons (unix sockets): an
 * exclusive open refuses everyone else with the holder's name, is refused
 * itself while others hold the leaf, ends when its holder closes or
 * disconnects, and works the same for a leaf reached through a peer (the
 * hold is taken on both nodes). The CLI's --exclusive takes part too.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../src/errors/index.js'
import { connectClient } from '../src/net/index.js'
import type { TreeClient } from '../src/net/index.js'
import { runCli, startDaemon } from './cli-kit.js'
import { RawPeer } from './protocol-kit.js'
import type { RunningDaemon } from './cli-kit.js'

const busy = (message: RegExp) => (err: unknown): boolean => {
  assert.ok(err instanceof MemweaveError, String(err))
  assert.equal(err.kind, 'busy', err.message)
  assert.match(err.message, message)
  return true
}

/** Opens path until it succeeds: a closed connection's handles are dropped just after it goes. */
async function openWhenFree(client: TreeClient, path: string, exclusive = false): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await client.open(path, { exclusive })).handle
    } catch (err) {
      if (!(err instanceof MemweaveError) || err.kind !== 'busy' || attempt > 200) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

describe('exclusive handles', () => {
  let dir: string
  let c: RunningDaemon
  let b: RunningDaemon
  const cUrl = (): string => `unix:${join(dir, 'c.sock')}`
  const bUrl = (): string => `unix:${join(dir, 'b.sock')}`
  const clients: TreeClient[] = []
  const client = async (url: string, name: string): Promise<TreeClient> => {
    const made = await connectClient(url, { name })
    clients.push(made)
    return made
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-exclusive-'))
    await writeFile(join(dir, 'dump.raw'), Buffer.alloc(1 << 16, 7))
    c = await startDaemon(['--log-level', 'warn', '--listen', cUrl(), '--with', `connector dump file:${join(dir, 'dump.raw')}`], { env: { MEMWEAVE_STATE_DIR: join(dir, 'state-c') } })
    b = await startDaemon(['--log-level', 'warn', '--listen', bUrl(), '--connect', `c=${cUrl()},backoff-max-ms=500`], { env: { MEMWEAVE_STATE_DIR: join(dir, 'state-b') } })
  })

  after(async () => {
    await Promise.all(clients.map((cl) => cl.disconnect().catch(() => undefined)))
    await b?.stop()
    await c?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses others while held, naming the holder, and frees the leaf on close and on disconnect', async () => {
    const holder = await client(cUrl(), 'test-holder')
    const other = await client(cUrl(), 'test-other')
    const held = await holder.open('connector/dump/mem', { exclusive: true })
    await assert.rejects(other.open('connector/dump/mem'), busy(/'connector\/dump\/mem' is held exclusively by conn-\d+ \(test-holder, unix socket\)/))
    await assert.rejects(other.open('connector/dump/mem', { exclusive: true }), busy(/held exclusively by conn-\d+ \(test-holder/))
    const [bytes] = await holder.read(held.handle, [{ addr: 0n, length: 4 }])
    assert.ok(bytes?.ok && bytes.data[0] === 7, 'the holder reads as usual')
    await holder.close(held.handle)
    const shared = await other.open('connector/dump/mem')
    await assert.rejects(holder.open('connector/dump/mem', { exclusive: true }), busy(/cannot be opened exclusively: it is open by conn-\d+ \(test-other/))
    await other.close(shared.handle)
    await holder.open('connector/dump/mem', { exclusive: true })
    await holder.disconnect()
    await other.close(await openWhenFree(other, 'connector/dump/mem'))
  })

  it('the CLI: --exclusive takes the leaf; a held leaf refuses the CLI with the holder named', async () => {
    const holder = await client(cUrl(), 'test-cli-holder')
    const held = await holder.open('connector/dump/mem', { exclusive: true })
    const refused = await runCli(['--daemon', cUrl(), 'read', 'connector/dump/mem', '--length', '4'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /held exclusively by conn-\d+ \(test-cli-holder, unix socket\)/)
    await holder.close(held.handle)
    const shared = await holder.open('connector/dump/mem')
    const exclusive = await runCli(['--daemon', cUrl(), '--exclusive', 'read', 'connector/dump/mem', '--length', '4'])
    assert.equal(exclusive.code, 1)
    assert.match(exclusive.stderr, /cannot be opened exclusively: it is open by conn-\d+ \(test-cli-holder/)
    await holder.close(shared.handle)
    const alone = await runCli(['--daemon', cUrl(), '--exclusive', 'read', 'connector/dump/mem', '--length', '4'])
    assert.equal(alone.code, 0, alone.stderr)
  })

  it('a 1.2 client (which knows no exclusive field) opens as before, and is refused with the holder named while a leaf is held', async () => {
    const old = await RawPeer.connect(cUrl())
    try {
      old.send({ id: 0, op: 'hello', version: { major: 1, minor: 2 }, client: { name: 'old-client' } })
      await old.reply(0)
      old.send({ id: 1, op: 'open', path: 'connector/dump/mem' })
      const opened = await old.reply(1)
      assert.equal(typeof (opened['result'] as { handle?: unknown } | undefined)?.handle, 'number', String(opened['error']))
      const holder = await client(cUrl(), 'test-new-holder')
      await assert.rejects(holder.open('connector/dump/mem', { exclusive: true }), busy(/it is open by conn-\d+ \(old-client, unix socket\)/))
      old.send({ id: 2, op: 'close', handle: (opened['result'] as { handle: number }).handle })
      await old.reply(2)
      const held = await holder.open('connector/dump/mem', { exclusive: true })
      old.send({ id: 3, op: 'open', path: 'connector/dump/mem' })
      const refused = await old.reply(3)
      assert.match(String((refused['error'] as { message?: unknown } | undefined)?.message), /held exclusively by conn-\d+ \(test-new-holder/)
      await holder.close(held.handle)
    } finally {
      old.ws.close()
    }
  })

  it('through a peer: the hold is taken here and on the peer, and released there when the holder disconnects', async () => {
    const viaB = await client(bUrl(), 'test-via-b')
    for (let i = 0; i < 100 && !(await viaB.list('c/connector').then(() => true, () => false)); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    const direct = await client(cUrl(), 'test-direct')
    const neighbour = await client(bUrl(), 'test-neighbour')
    await viaB.open('c/connector/dump/mem', { exclusive: true })
    await assert.rejects(direct.open('connector/dump/mem'), busy(/held exclusively by conn-\d+ \(peer/), 'the peer holds it for b')
    await assert.rejects(neighbour.open('c/connector/dump/mem'), busy(/held exclusively by conn-\d+ \(test-via-b, unix socket\)/), 'b refuses its own other clients')
    await viaB.disconnect()
    await direct.close(await openWhenFree(direct, 'connector/dump/mem', true))
    await neighbour.close(await openWhenFree(neighbour, 'c/connector/dump/mem'))
  })
})
