/**
 * The gdb stub's listener: TCP on a loopback address only (gdb's remote
 * protocol has no authentication: anyone who reaches the port reads the
 * process; reach it from elsewhere through an ssh tunnel). Each connection
 * gets its own session on one shared ProcessTarget; packets are answered in
 * order, each acknowledged with '+'. The server ends by itself when the
 * process goes away.
 */
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { MemweaveError } from '../../errors/index.js'
import { isLoopbackHost } from '../../net/index.js'
import { GdbSession } from './gdb-session.js'
import type { ProcessTarget } from './process-target.js'
import { framePacket, RspDecoder } from './rsp-framing.js'

export interface GdbServer {
  readonly address: { readonly host: string; readonly port: number }
  /** Settles when the server has closed: stopped, or the process went away (with its reason). */
  readonly closed: Promise<string | undefined>
  close(): Promise<void>
}

/** HOST:PORT (IPv6 in brackets); HOST must be loopback. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text)
  const host = match?.[1] ?? match?.[2]
  const port = Number(match?.[3])
  if (match === null || host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new MemweaveError('cli', 'invalid_argument', `--listen '${text}' is not HOST:PORT`)
  }
  if (!isLoopbackHost(host)) {
    throw new MemweaveError('cli', 'permission', `--listen ${text}: the gdb remote protocol has no authentication, so the stub listens on loopback only (use an ssh tunnel to reach it from elsewhere)`)
  }
  return { host, port }
}

function serve(socket: Socket, session: GdbSession, onGone: (reason: string) => void, log: (line: string) => void): void {
  const decoder = new RspDecoder()
  let queue = Promise.resolve()
  const send = (payload: Buffer | string): void => { if (!socket.destroyed) socket.write(framePacket(payload)) }
  socket.on('data', (chunk: Buffer) => {
    let events
    try {
      events = decoder.push(chunk)
    } catch (err) {
      log(`memweave gdbserver: ${err instanceof Error ? err.message : String(err)}; closing the connection`)
      socket.destroy()
      return
    }
    for (const event of events) {
      if (event.type === 'bad-checksum') { socket.write('-'); continue }
      if (event.type === 'packet') socket.write('+')
      const packet = event.type === 'interrupt' ? '?' : event.payload.toString('latin1')
      queue = queue.then(async () => {
        const replies = await session.handle(packet)
        for (const reply of replies) {
          send(reply.payload)
          if (reply.end === true) socket.end()
        }
        const gone = session.gone
        if (gone !== undefined && replies.some((r) => r.end === true)) onGone(gone)
      }).catch((err: unknown) => {
        log(`memweave gdbserver: ${err instanceof Error ? err.message : String(err)}`)
        send('E01')
      })
    }
  })
  socket.on('error', () => socket.destroy())
}

export async function startGdbServer(target: ProcessTarget, listen: { host: string; port: number }, log: (line: string) => void): Promise<GdbServer> {
  const sockets = new Set<Socket>()
  let finish: (reason: string | undefined) => void = () => {}
  const closed = new Promise<string | undefined>((resolve) => { finish = resolve })
  let goneReason: string | undefined
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    const session = new GdbSession(target, log)
    // The first stop of every connection reads the threads as they are now.
    session.refresh().then(() => serve(socket, session, (reason) => { goneReason = reason; void close() }, log),
      (err: unknown) => { log(`memweave gdbserver: ${err instanceof Error ? err.message : String(err)}`); socket.destroy() })
  })
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.end()
    await new Promise<void>((resolve) => { server.close(() => resolve()) })
    finish(goneReason)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new MemweaveError('cli', 'io', `gdbserver cannot listen on ${listen.host}:${listen.port}`, { cause: err })))
    server.listen(listen.port, listen.host, () => resolve())
  })
  const bound = server.address() as AddressInfo
  return { address: { host: bound.address, port: bound.port }, closed, close }
}
