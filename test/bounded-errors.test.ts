/**
 * Errors quote a short prefix of what a client sent, never the whole of it:
 * a 1 MiB control line, a 4000-bit address. And a read the tree refuses
 * outright is answered at once without counting as in flight, so it cannot
 * turn the next good request into a misleading "bytes in flight" refusal.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import { connectClient, startServer } from '../src/net/index.js'
import type { ProtocolClient, RunningServer } from '../src/net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, BUILTIN_OS_KINDS, MemweaveNode } from '../src/node/index.js'
import { RawPeer } from './protocol-kit.js'

const log = pino({ level: process.env.MEMWEAVE_TEST_LOG ?? 'silent' })
const MIB = 1 << 20
/** Generous: a message that names the problem, never one that carries the input back. */
const SHORT = 1024
let dir = ''
let node: MemweaveNode
let server: RunningServer
let client: ProtocolClient

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mw-bounded-'))
  await writeFile(join(dir, 'small.raw'), new Uint8Array(1 << 16).fill(3))
  node = new MemweaveNode({ allowWrite: false, log, connectorKinds: BUILTIN_CONNECTOR_KINDS, osKinds: BUILTIN_OS_KINDS, mappings: BUILTIN_MAPPINGS })
  server = await startServer({ tree: node.tree, listen: [`unix:${join(dir, 'mw.sock')}`], log })
  client = await connectClient(server.addresses[0] ?? '')
  const { handle } = await client.open('connector/new')
  const [created] = await client.write(handle, [{ addr: 0n, data: Buffer.from(`small file:${join(dir, 'small.raw')}\n`) }])
  assert.ok(created?.ok)
  await client.close(handle)
})

after(async () => {
  await client.disconnect()
  await server.close()
  await node.close()
  await rm(dir, { recursive: true, force: true })
})

async function controlError(line: string): Promise<string> {
  const { handle } = await client.open('connector/new')
  try {
    const [result] = await client.write(handle, [{ addr: 0n, data: Buffer.from(`${line}\n`) }])
    assert.ok(result !== undefined && !result.ok, 'the line is refused')
    return result.error.message
  } finally {
    await client.close(handle)
  }
}

test('a 1 MiB control line comes back as a short error that names it', async () => {
  const longTarget = await controlError(`huge file:/${'x'.repeat(MIB)}`)
  assert.ok(longTarget.length < SHORT, longTarget.slice(0, 400))
  const longName = await controlError(`${'n'.repeat(MIB)} file:/dev/null`)
  assert.ok(longName.length < SHORT, `${longName.length} characters`)
  assert.match(longName, /longer than 64 characters/)
  const trailing = await controlError(`t file:/a ${'y '.repeat(MIB / 2)}`)
  assert.ok(trailing.length < SHORT, `${trailing.length} characters`)
  assert.match(trailing, /\(\d+ characters\)/)
  // The control leaf's own history (what `cat connector/new` shows) stays small too.
  const { handle } = await client.open('connector/new')
  const [shown] = await client.read(handle, [{ addr: 0n, length: 4 * MIB }])
  await client.close(handle)
  assert.ok(shown?.ok && shown.data.length < 16 * 1024, 'the recent-results text is bounded')
})

test('a 4000-bit address is described, not echoed, and a refused read does not count as in flight', async () => {
  const peer = await RawPeer.connect(server.addresses[0] ?? '')
  try {
    assert.ok('result' in (await peer.hello()))
    peer.send({ id: 1, op: 'open', path: 'connector/small/mem' })
    const opened = await peer.reply(1)
    const handle = (opened.result as { handle: number }).handle
    peer.send({ id: 2, op: 'read', handle, pieces: [{ addr: 1n << 4000n, length: 8 }] })
    const huge = await peer.reply(2)
    const hugeMessage = String((huge.error as { message: string }).message)
    assert.ok(hugeMessage.length < 200, hugeMessage.slice(0, 300))
    assert.match(hugeMessage, /4001-bit/)

    // Sent together: the first is refused by the tree's own limit, the second is a plain 16-byte read.
    peer.send({ id: 3, op: 'read', handle, pieces: [{ addr: 0n, length: 2 ** 53 - 1 }] })
    peer.send({ id: 4, op: 'read', handle, pieces: [{ addr: 0n, length: 16 }] })
    const refused = await peer.reply(3)
    assert.match(String((refused.error as { message: string }).message), /exceeds the limit/)
    const good = await peer.reply(4)
    assert.ok(Array.isArray(good.result), `the next read is served, got ${JSON.stringify(good.error)}`)
  } finally {
    peer.ws.terminate()
  }
})
