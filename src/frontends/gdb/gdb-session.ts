/**
 * One gdb connection: each packet from gdb gets exactly one reply.
 *
 *   stop       ?  c  s  C  S  vCont;…   re-read the threads, report "T05thread:TID;"
 *                                       (memweave never runs or stops the process: a
 *                                       "continue" is a fresh look at it)
 *   threads    qfThreadInfo qsThreadInfo qC T Hg Hc qXfer:threads:read
 *   registers  g p (from the stop's thread records); G P refused with an "E.text" reply
 *              gdb shows ("Could not write register …; remote failure reply '…'")
 *   memory     m, and M only with --allow-write
 *   breakpoints Z0/Z1 and z0/z1 accepted and never hit (the process is not run), so gdb
 *              does not patch breakpoint instructions into memory on `continue`
 *   objects    qXfer:features:read (target.xml), qXfer:auxv:read
 *   end        k D vKill; a process that went away ends the session with W00
 *              after an 'O' line saying why
 *
 * Anything else gets the empty reply ("not supported"), as the protocol asks.
 */
import { escapeBinary } from './rsp-framing.js'
import { isGone } from './process-target.js'
import type { ProcessTarget, TargetThread } from './process-target.js'

export const PACKET_SIZE = 0x4000
/** Register writes would have to change the saved pt_regs in guest memory; memweave does not do that. */
export const REGISTER_WRITES_REFUSED = 'memweave: register writes are not supported (the saved user registers in guest memory are never changed; memory writes with --allow-write are)'

export interface SessionReply {
  readonly payload: Buffer | string
  /** Close the connection after sending. */
  readonly end?: boolean
}

function hexOf(data: Uint8Array): string {
  return Buffer.from(data).toString('hex')
}

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** 'ADDR,LEN' → numbers, or undefined when malformed. */
function parseRange(text: string): { addr: bigint; length: number } | undefined {
  const match = /^([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})$/.exec(text)
  if (match === null) return undefined
  return { addr: BigInt(`0x${match[1] ?? '0'}`), length: Number.parseInt(match[2] ?? '0', 16) }
}

/** An 'm'/'l' qXfer reply for [offset, offset+length) of data. */
function xferSlice(data: Uint8Array, range: string): Buffer | string {
  const parsed = parseRange(range)
  if (parsed === undefined) return 'E01'
  const start = Number(parsed.addr)
  const chunk = data.subarray(start, start + parsed.length)
  return Buffer.concat([Buffer.from(start + parsed.length >= data.length ? 'l' : 'm'), escapeBinary(chunk)])
}

export class GdbSession {
  private threads: TargetThread[] = []
  private selected = 0
  private goneReason: string | undefined

  constructor(private readonly target: ProcessTarget, private readonly log: (line: string) => void) {}

  /** Reads the threads for a stop; remembers why if the process went away. */
  async refresh(): Promise<void> {
    try {
      this.threads = await this.target.threads()
    } catch (err) {
      if (!isGone(err)) throw err
      this.goneReason = err.message
      this.threads = []
    }
    if (!this.threads.some((t) => t.tid === this.selected)) this.selected = this.threads[0]?.tid ?? 0
  }

  get gone(): string | undefined {
    return this.goneReason
  }

  private stopReply(): SessionReply {
    if (this.goneReason !== undefined) return this.endReply()
    return { payload: this.selected === 0 ? 'S05' : `T05thread:${this.selected.toString(16)};` }
  }

  private endReply(): SessionReply {
    this.log(`memweave gdbserver: the process went away: ${this.goneReason ?? ''}`)
    const line = Buffer.from(`memweave: the process went away: ${this.goneReason ?? ''}\n`).toString('hex')
    return { payload: `O${line}`, end: false }
  }

  private thread(): TargetThread | undefined {
    return this.threads.find((t) => t.tid === this.selected) ?? this.threads[0]
  }

  /** The reply (or replies: an 'O' line before a final W00) to one packet. */
  async handle(packet: string): Promise<SessionReply[]> {
    try {
      return await this.dispatch(packet)
    } catch (err) {
      if (!isGone(err)) throw err
      this.goneReason = err.message
      return [{ payload: 'E01' }]
    }
  }

  private async dispatch(packet: string): Promise<SessionReply[]> {
    const one = (payload: Buffer | string, end = false): SessionReply[] => [{ payload, end }]
    if (packet === '?' || /^[cs]([0-9a-fA-F]*)$/.test(packet) || /^[CS][0-9a-fA-F]{2}/.test(packet) || packet.startsWith('vCont;')) {
      await this.refresh()
      return this.goneReason === undefined ? [this.stopReply()] : [this.endReply(), { payload: 'W00', end: true }]
    }
    if (packet.startsWith('qSupported')) {
      return one(`PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;qXfer:threads:read+;qXfer:auxv:read+`)
    }
    if (packet === 'vCont?') return one('vCont;c;C;s;S')
    if (packet === 'qAttached' || packet.startsWith('qAttached:')) return one('1')
    if (packet === 'qC') return one(this.selected === 0 ? '' : `QC${this.selected.toString(16)}`)
    if (packet === 'qfThreadInfo') return one(this.threads.length === 0 ? 'l' : `m${this.threads.map((t) => t.tid.toString(16)).join(',')}`)
    if (packet === 'qsThreadInfo') return one('l')
    if (packet.startsWith('qSymbol')) return one('OK')
    if (/^H[gc]/.test(packet)) {
      const id = Number.parseInt(packet.slice(2), 16)
      if (packet[1] === 'g' && id > 0) {
        if (!this.threads.some((t) => t.tid === id)) return one('E01')
        this.selected = id
      }
      return one('OK')
    }
    if (packet.startsWith('T')) return one(this.threads.some((t) => t.tid === Number.parseInt(packet.slice(1), 16)) ? 'OK' : 'E01')
    if (packet === 'g') {
      const thread = this.thread()
      if (thread === undefined) return one('E01')
      return one(this.target.description.slots.map((slot, i) => {
        const value = thread.values[i]
        return value === undefined ? 'xx'.repeat(slot.bytes) : hexOf(value)
      }).join(''))
    }
    if (/^p[0-9a-fA-F]+$/.test(packet)) {
      const number = Number.parseInt(packet.slice(1), 16)
      const slot = this.target.description.slots[number]
      if (slot === undefined) return one('E45')
      const value = this.thread()?.values[number]
      return one(value === undefined ? 'xx'.repeat(slot.bytes) : hexOf(value))
    }
    if (/^[GP]/.test(packet)) return one(`E.${REGISTER_WRITES_REFUSED}`)
    if (/^[Zz][01],/.test(packet)) return one('OK')
    if (packet.startsWith('m')) {
      const range = parseRange(packet.slice(1))
      if (range === undefined) return one('E01')
      const data = await this.target.readMemory(range.addr, range.length)
      return one(data === undefined ? 'E14' : hexOf(data))
    }
    if (packet.startsWith('M')) {
      const colon = packet.indexOf(':')
      const range = parseRange(packet.slice(1, colon < 0 ? undefined : colon))
      const hex = colon < 0 ? '' : packet.slice(colon + 1)
      if (range === undefined || hex.length !== range.length * 2 || !/^[0-9a-fA-F]*$/.test(hex)) return one('E01')
      if (!this.target.allowWrite) return one('E01')
      return one((await this.target.writeMemory(range.addr, Buffer.from(hex, 'hex'))) ? 'OK' : 'E14')
    }
    const xfer = /^qXfer:([a-z]+):read:([^:]*):(.*)$/.exec(packet)
    if (xfer !== null) {
      const [, object, annex, range] = xfer
      if (object === 'features' && annex === 'target.xml') return one(xferSlice(Buffer.from(this.target.description.xml), range ?? ''))
      if (object === 'threads') {
        const xml = `<?xml version="1.0"?><threads>${this.threads.map((t) => `<thread id="${t.tid.toString(16)}" name="${xmlEscape(t.name)}"/>`).join('')}</threads>`
        return one(xferSlice(Buffer.from(xml), range ?? ''))
      }
      if (object === 'auxv') return one(xferSlice(await this.target.auxv(), range ?? ''))
      return one('E00')
    }
    if (packet === 'k' || packet.startsWith('vKill')) return one(packet === 'k' ? '' : 'OK', true)
    if (packet === 'D' || packet.startsWith('D;')) return one('OK', true)
    return one('')
  }
}
