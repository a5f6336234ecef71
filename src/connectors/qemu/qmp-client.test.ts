/**
 * The QMP client against a small QMP speaker on a real unix socket:
 * greeting and capabilities, replies matched by id with events in between,
 * QMP errors, a socket that never greets (another client holds QEMU's
 * monitor), and QEMU closing the connection.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { QmpClient } from './qmp-client.js'

type Behaviour = 'normal' | 'silent' | 'hangup'

function speaker(socket: Socket, behaviour: Behaviour): void {
  if (behaviour === 'silent') return
  socket.write('{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}\r\n')
  let buffer = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffer += chunk
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const message = JSON.parse(buffer.slice(0, nl)) as { execute: string; id: string; arguments?: { 'command-line'?: string } }
      buffer = buffer.slice(nl + 1)
      const reply = (body: object): void => { socket.write(`${JSON.stringify({ ...body, id: message.id })}\r\n`) }
      if (behaviour === 'hangup' && message.execute !== 'qmp_capabilities') { socket.destroy(); return }
      // An event first, and the reply in two writes, as QEMU may do.
      socket.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESUME"}\r\n')
      switch (message.execute) {
        case 'qmp_capabilities': reply({ return: {} }); break
        case 'query-name': reply({ return: { name: 'web1' } }); break
        case 'human-monitor-command': {
          const text = JSON.stringify({ return: `you said ${message.arguments?.['command-line'] ?? ''}\r\nline two\r\n`, id: message.id })
          socket.write(text.slice(0, 10))
          socket.write(`${text.slice(10)}\r\n`)
          break
        }
        default: reply({ error: { class: 'CommandNotFound', desc: `The command ${message.execute} has not been found` } })
      }
    }
  })
}

describe('QMP client', () => {
  let dir: string
  const servers: Server[] = []
  const socketFor = async (behaviour: Behaviour): Promise<string> => {
    const path = join(dir, `${behaviour}.sock`)
    const server = createServer((socket) => speaker(socket, behaviour))
    servers.push(server)
    await new Promise<void>((ok) => server.listen(path, ok))
    return path
  }

  before(() => { dir = mkdtempSync(join(tmpdir(), 'mw-qmp-')) })
  after(() => {
    for (const server of servers) server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('negotiates, runs commands and monitor lines, and skips events', async () => {
    const client = await QmpClient.connect(await socketFor('normal'))
    try {
      assert.deepEqual(await client.execute('query-name'), { name: 'web1' })
      assert.equal(await client.humanMonitor('info mtree -f'), 'you said info mtree -f\nline two\n')
      const [a, b] = await Promise.all([client.execute('query-name'), client.humanMonitor('x')])
      assert.deepEqual(a, { name: 'web1' })
      assert.equal(b, 'you said x\nline two\n')
      await assert.rejects(client.execute('no-such-command'), (err: unknown) => err instanceof MemweaveError && err.kind === 'unsupported' && /CommandNotFound/.test(err.message))
    } finally {
      client.close()
    }
  })

  it('times out when QEMU does not greet (its monitor is busy with another client)', async () => {
    await assert.rejects(QmpClient.connect(await socketFor('silent'), { timeoutMs: 200 }),
      (err: unknown) => err instanceof MemweaveError && err.kind === 'timeout' && /another one connected/.test(err.message))
  })

  it('fails pending and later commands when QEMU hangs up', async () => {
    const client = await QmpClient.connect(await socketFor('hangup'))
    await assert.rejects(client.execute('query-name'), (err: unknown) => err instanceof MemweaveError && err.kind === 'disconnected')
    await assert.rejects(client.execute('query-name'), (err: unknown) => err instanceof MemweaveError && err.kind === 'disconnected')
  })

  it('reports a missing socket as not found', async () => {
    await assert.rejects(QmpClient.connect(join(dir, 'absent.sock')), (err: unknown) => err instanceof MemweaveError && err.kind === 'not_found')
  })
})
