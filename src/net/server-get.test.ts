/**
 * The `get` op over a real TCP listener: whole leaves by path with `*`
 * expanded, each leaf failing alone, and the same access checks as open and
 * read (a path-limited token sees only its paths, a read token no control
 * leaf); a 1.4 daemon's client refuses to send it.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pino } from 'pino'
import { BufferMemory } from '../mem/index.js'
import { controlLeaf, jsonLeaf, Lifetime, memLeaf, staticBranch, Tree } from '../tree/index.js'
import type { Branch } from '../tree/index.js'
import { tokenDigest } from './auth/credentials.js'
import type { Credential } from './auth/credentials.js'
import { connectClient } from './connect.js'
import type { ProtocolClient } from './protocol-client.js'
import { startServer } from './server.js'
import type { RunningServer } from './server.js'

const ADMIN = 'a'.repeat(64)
const READER = 'b'.repeat(64)
const NARROW = 'c'.repeat(64)

function processes(lifetime: Lifetime, pids: readonly number[], gone: ReadonlySet<number>): Branch {
  const byPid: Branch = {
    type: 'branch', lifetime,
    list: async () => pids.map((pid) => ({ name: String(pid), type: 'branch' as const })),
    // A listed pid may be gone by the time it is opened (a process that exited meanwhile).
    get: async (name) => (gone.has(Number(name)) || !pids.includes(Number(name)) ? undefined : staticBranch({
      info: jsonLeaf(`p${name}/info`, lifetime, () => ({ pid: Number(name), name: `proc-${name}` })),
      mem: memLeaf({ identity: `p${name}/mem`, lifetime, mem: new BufferMemory(new Uint8Array(4096)) }),
    }, lifetime)),
  }
  return staticBranch({ 'by-pid': byPid }, lifetime)
}

describe('get: whole leaves by path in one request', () => {
  let server: RunningServer
  let dir: string
  const tree = new Tree({ allowWrite: false })
  const url = (): string => server.addresses[0] ?? ''
  const clients: ProtocolClient[] = []
  const connect = async (token: string): Promise<ProtocolClient> => {
    const client = await connectClient(url(), { token, name: 'get-test' })
    clients.push(client)
    return client
  }
  const text = (data: Uint8Array): unknown => JSON.parse(Buffer.from(data).toString('utf8'))

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-get-'))
    const lifetime = new Lifetime("object 'get-test'")
    tree.setRoot(staticBranch({
      os: staticBranch({ g: staticBranch({ processes: processes(lifetime, [1, 2, 7, 9], new Set([9])) }, lifetime) }, lifetime),
      ctl: controlLeaf({ identity: 'get-test/ctl', lifetime, usage: 'write a line', run: async () => 'ok' }),
    }, lifetime))
    const credentials: Credential[] = [
      { name: 'admin', role: 'admin', digest: tokenDigest(ADMIN) },
      { name: 'reader', role: 'read', digest: tokenDigest(READER) },
      { name: 'narrow', role: 'read', paths: ['os/g/processes/by-pid/2/**'], digest: tokenDigest(NARROW) },
    ]
    server = await startServer({ tree, listen: ['ws://127.0.0.1:0'], stateDir: join(dir, 'state'), tokenStore: () => credentials, log: pino({ level: 'silent' }) })
  })
  after(async () => {
    for (const client of clients) await client.disconnect()
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a * pattern reads every listed leaf, in listing order; one that vanished fails alone', async () => {
    const client = await connect(ADMIN)
    const results = await client.get(['os/g/processes/by-pid/*/info'])
    assert.deepEqual(results.map((r) => r.path), [1, 2, 7, 9].map((pid) => `os/g/processes/by-pid/${pid}/info`))
    assert.deepEqual(results.slice(0, 3).map((r) => ('data' in r ? text(r.data) : r.error.message)), [1, 2, 7].map((pid) => ({ pid, name: `proc-${pid}` })))
    const gone = results[3]
    assert.ok(gone !== undefined && 'error' in gone)
    assert.match(gone.error.message, /no such path|not found/i)
    // Every handle it opened is closed again.
    assert.equal(tree.handles.ownedBy(client.serverInfo.connection), 0)
  })

  test('plain paths and patterns mix; mem and control leaves, and a missing branch, are per-entry errors', async () => {
    const client = await connect(ADMIN)
    const results = await client.get(['os/g/processes/by-pid/7/info', 'os/g/processes/by-pid/7/mem', 'ctl', 'os/nope/*/info'])
    assert.deepEqual(results.map((r) => r.path), ['os/g/processes/by-pid/7/info', 'os/g/processes/by-pid/7/mem', 'ctl', 'os/nope/*/info'])
    assert.ok(results[0] !== undefined && 'data' in results[0])
    assert.ok(results[1] !== undefined && 'error' in results[1] && /mem leaf/.test(results[1].error.message))
    assert.ok(results[2] !== undefined && 'error' in results[2] && /control leaf/.test(results[2].error.message))
    assert.ok(results[3] !== undefined && 'error' in results[3])
  })

  test('a leaf over maxBytes is too_large, alone', async () => {
    const client = await connect(ADMIN)
    const [small, big] = await client.get(['os/g/processes/by-pid/1/info', 'os/g/processes/by-pid/1/info'], 4)
    assert.ok(small !== undefined && 'error' in small && /more than get's 4/.test(small.error.message))
    assert.ok(big !== undefined && 'error' in big)
  })

  test('a path-limited token gets only its paths: a * lists what it may see, others do not exist', async () => {
    const client = await connect(NARROW)
    const results = await client.get(['os/g/processes/by-pid/*/info', 'os/g/processes/by-pid/1/info'])
    assert.deepEqual(results.map((r) => r.path), ['os/g/processes/by-pid/2/info', 'os/g/processes/by-pid/1/info'])
    assert.ok(results[0] !== undefined && 'data' in results[0])
    assert.ok(results[1] !== undefined && 'error' in results[1] && /no such path/.test(results[1].error.message))
  })

  test('an oversized get fails as a whole; a malformed one is a protocol error', async () => {
    const client = await connect(ADMIN)
    const many = Array.from({ length: 70_000 }, () => 'os/g/processes/by-pid/1/info')
    await assert.rejects(client.get(many), /exceeds the limit/)
    await assert.rejects(client.get([42 as unknown as string]), /paths\[0\] must be a path string/)
    // The connection is still usable.
    assert.equal((await client.get(['os/g/processes/by-pid/2/info'])).length, 1)
  })

  test('a read token reads info leaves but no control leaf', async () => {
    const client = await connect(READER)
    const [info, ctl] = await client.get(['os/g/processes/by-pid/1/info', 'ctl'])
    assert.ok(info !== undefined && 'data' in info)
    assert.ok(ctl !== undefined && 'error' in ctl && /read role/.test(ctl.error.message))
  })
})
