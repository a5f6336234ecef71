/**
 * Raw TCP data channels for tests (protocol 1.6, src/net/data-channel.ts):
 * the HTTP Upgrade sent by hand, and a raw session's ticket, so a test can
 * hold a channel socket and do with it what no well-behaved client would
 * (write on it, forge its ticket, never read it).
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import type { RawPeer } from './protocol-kit.js'

/** A raw HTTP request to the listener; the whole answer (the socket stays open after a 101). */
export async function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; text: string; socket: Socket }> {
  const { hostname, port, host } = new URL(url)
  const socket = connect({ host: hostname, port: Number(port) })
  const lines = ['GET /memweave/data HTTP/1.1', `Host: ${host}`, 'Connection: Upgrade', 'Upgrade: memweave-data', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  socket.write(`${lines.join('\r\n')}\r\n\r\n`)
  let text = ''
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); if (text.startsWith('HTTP/1.1 101') && text.includes('\r\n\r\n')) resolve() })
    socket.once('close', () => resolve())
  })
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text, socket }
}

/** A one-time channel ticket for a raw session (request `id`). */
export async function rawTicket(peer: RawPeer, id: number): Promise<string> {
  peer.send({ id, op: 'channel' })
  const reply = await peer.reply(id)
  const result = reply.result
  assert.ok(typeof result === 'object' && result !== null && 'ticket' in result && typeof result.ticket === 'string', `a ticket: ${JSON.stringify(reply)}`)
  return result.ticket
}

/** The raw session's data channel, upgraded (request `id` asks for its ticket). */
export async function rawChannel(peer: RawPeer, url: string, id: number): Promise<Socket> {
  const channel = await upgrade(url, { 'Memweave-Channel-Ticket': await rawTicket(peer, id) })
  assert.equal(channel.status, 101, channel.text)
  return channel.socket
}
