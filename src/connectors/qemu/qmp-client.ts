/**
 * A small QMP client: JSON objects, one per line, over a unix socket.
 * QEMU greets with {"QMP": ...}; the client must send qmp_capabilities
 * before anything else; replies carry the id of their command; events may
 * arrive in between and are ignored. A QMP socket serves one client at a
 * time, so sessions are short: connect, ask, close.
 */
import { createConnection } from 'node:net'
import type { Socket } from 'node:net'
import { MemweaveError, isRecord, toMemweaveError } from '../../errors/index.js'

export interface QmpOptions {
  /** Limit for connecting, the greeting and each command. */
  readonly timeoutMs?: number
}

export const DEFAULT_QMP_TIMEOUT_MS = 5000
/** A reply line longer than this is refused (info mtree of a big VM is well below). */
const MAX_LINE_BYTES = 32 * 1024 * 1024

interface Waiter {
  readonly resolve: (value: unknown) => void
  readonly reject: (err: MemweaveError) => void
  readonly timer: NodeJS.Timeout
}


export class QmpClient {
  private buffer = ''
  private nextId = 1
  private readonly waiters = new Map<string, Waiter>()
  private closedError: MemweaveError | undefined

  private constructor(private readonly socket: Socket, private readonly path: string, private readonly timeoutMs: number) {
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => this.onData(chunk))
    socket.on('error', (err) => this.fail(toMemweaveError(err, 'connector', `QMP socket ${path}`)))
    socket.on('close', () => this.fail(new MemweaveError('connector', 'disconnected', `QMP socket ${path} closed by QEMU`)))
  }

  /** Connects, waits for the greeting and negotiates capabilities. */
  static async connect(path: string, options: QmpOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_QMP_TIMEOUT_MS
    const socket = createConnection(path)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { socket.destroy(); reject(new MemweaveError('connector', 'timeout', `QMP socket ${path}: no connection within ${timeoutMs} ms`)) }, timeoutMs)
      socket.once('connect', () => { clearTimeout(timer); resolve() })
      socket.once('error', (err) => { clearTimeout(timer); reject(toMemweaveError(err, 'connector', `cannot connect to QMP socket ${path}`)) })
    })
    const client = new QmpClient(socket, path, timeoutMs)
    try {
      await client.expect('greeting', `no QMP greeting within ${timeoutMs} ms (QEMU serves one QMP client at a time: is another one connected?)`)
      await client.execute('qmp_capabilities')
      return client
    } catch (err) {
      client.close()
      throw err
    }
  }

  /** Runs a command and resolves with its "return" value; a QMP error becomes a MemweaveError. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = `mw-${this.nextId++}`
    const message = JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id })
    const reply = this.expect(id, `QMP command '${command}' got no reply within ${this.timeoutMs} ms`)
    if (this.closedError === undefined) this.socket.write(`${message}\n`)
    return reply
  }

  /** Runs a monitor (HMP) command line, e.g. `info mtree -f`, and returns its text. */
  async humanMonitor(commandLine: string): Promise<string> {
    const out = await this.execute('human-monitor-command', { 'command-line': commandLine })
    if (typeof out !== 'string') throw new MemweaveError('connector', 'protocol', `QMP socket ${this.path}: '${commandLine}' returned no text`)
    return out.replaceAll('\r\n', '\n')
  }

  close(): void {
    this.fail(new MemweaveError('connector', 'disconnected', `QMP session on ${this.path} was closed`))
  }

  private expect(key: string, timeoutMessage: string): Promise<unknown> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key)
        reject(new MemweaveError('connector', 'timeout', `QMP socket ${this.path}: ${timeoutMessage}`))
      }, this.timeoutMs)
      this.waiters.set(key, { resolve, reject, timer })
    })
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let newline = this.buffer.indexOf('\n')
    while (newline >= 0) {
      const line = this.buffer.slice(0, newline).trim()
      this.buffer = this.buffer.slice(newline + 1)
      if (line.length > 0) this.onLine(line)
      newline = this.buffer.indexOf('\n')
    }
    if (this.buffer.length > MAX_LINE_BYTES) this.fail(new MemweaveError('connector', 'protocol', `QMP socket ${this.path}: reply line longer than ${MAX_LINE_BYTES} bytes`))
  }

  private onLine(line: string): void {
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch (err) {
      this.fail(new MemweaveError('connector', 'protocol', `QMP socket ${this.path}: reply is not JSON`, { cause: err }))
      return
    }
    if (!isRecord(message)) { this.fail(new MemweaveError('connector', 'protocol', `QMP socket ${this.path}: reply is not a JSON object`)); return }
    if ('event' in message) return
    if ('QMP' in message) { this.settle('greeting', message['QMP']); return }
    const id = typeof message['id'] === 'string' ? message['id'] : undefined
    if (id === undefined) return
    const error = message['error']
    if (isRecord(error)) {
      const cls = typeof error['class'] === 'string' ? error['class'] : 'Error'
      const desc = typeof error['desc'] === 'string' ? error['desc'] : 'no description'
      const kind = cls === 'CommandNotFound' ? 'unsupported' : 'io'
      this.settle(id, undefined, new MemweaveError('connector', kind, `QMP socket ${this.path}: ${cls}: ${desc}`))
      return
    }
    this.settle(id, message['return'])
  }

  private settle(key: string, value: unknown, error?: MemweaveError): void {
    const waiter = this.waiters.get(key)
    if (waiter === undefined) return
    this.waiters.delete(key)
    clearTimeout(waiter.timer)
    if (error !== undefined) waiter.reject(error)
    else waiter.resolve(value)
  }

  private fail(error: MemweaveError): void {
    if (this.closedError !== undefined) return
    this.closedError = error
    this.socket.destroy()
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer)
      waiter.reject(error)
    }
    this.waiters.clear()
  }
}
