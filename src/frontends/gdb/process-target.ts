/**
 * The process a gdb session looks at, read through the tree like any other
 * client (so a process behind a peer works the same):
 *
 *   PATH/mem                       memory, one handle for the session
 *   PATH/threads/                  thread ids (re-listed at every stop)
 *   PATH/threads/TID/registers.json registers and the FP area (FXSAVE / user_fpsimd_state)
 *   PATH/auxv, PATH/info           qXfer:auxv:read, the process name and arch (which
 *                                  register description gdb gets)
 *
 * A stale handle or a vanished path means the process went away: that is
 * reported as `gone` with the tree's own reason.
 */
import { MemweaveError, isRecord } from '../../errors/index.js'
import type { TreeClient } from '../../net/index.js'
import { targetFor, X86_64_TARGET } from './target-description.js'
import type { TargetDescription } from './target-description.js'

export interface TargetThread {
  readonly tid: number
  readonly name: string
  /** Register values in the description's slot order, each its slot's width (undefined: unavailable). */
  readonly values: readonly (Uint8Array | undefined)[]
}

/** Longest read gdb gets in one 'm' reply (it asks in PacketSize-bounded pieces anyway). */
export const MAX_MEMORY_READ = 0x8000


function littleEndian(value: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes)
  let v = BigInt.asUintN(bytes * 8, value)
  for (let i = 0; i < bytes; i++) { out[i] = Number(v & 0xffn); v >>= 8n }
  return out
}

/** One thread's registers.json turned into slot values of a description. */
export function slotValues(json: unknown, target: TargetDescription): (Uint8Array | undefined)[] {
  const registers = isRecord(json) && isRecord(json['registers']) ? json['registers'] : {}
  const areas = new Map<string, Buffer>()
  const area = (key: string): Buffer | undefined => {
    if (!areas.has(key)) {
      const text = isRecord(json) ? json[key] : undefined
      if (typeof text === 'string') areas.set(key, Buffer.from(text, 'hex'))
    }
    return areas.get(key)
  }
  return target.slots.map((slot) => {
    if ('json' in slot.from) {
      const text = registers[slot.from.json]
      return typeof text === 'string' && /^0x[0-9a-f]+$/i.test(text) ? littleEndian(BigInt(text), slot.bytes) : undefined
    }
    const bytes = area(slot.from.area)
    if (bytes === undefined || bytes.length < slot.from.at + slot.from.bytes) return undefined
    const out = new Uint8Array(slot.bytes)
    out.set(bytes.subarray(slot.from.at, slot.from.at + slot.from.bytes))
    return out
  })
}

export class ProcessTarget {
  private memHandle: number | undefined
  /** The register set gdb is given: chosen from the process's arch when opened. */
  description: TargetDescription = X86_64_TARGET

  constructor(private readonly client: TreeClient, readonly path: string, readonly allowWrite: boolean) {}

  /**
   * Picks the register description from the process's arch (an OS without
   * one is x86-64, the only kind that reads registers without saying so).
   * With writes allowed, the memory is held exclusively: no one else reads
   * or writes it while gdb may change it.
   */
  async open(): Promise<void> {
    const info: unknown = JSON.parse((await this.readSmall(`${this.path}/info`)).toString('utf8'))
    this.description = targetFor(isRecord(info) && typeof info['arch'] === 'string' ? info['arch'] : 'x86_64', await this.hasXsave())
    const opened = await this.client.open(`${this.path}/mem`, this.allowWrite ? { exclusive: true } : {})
    this.memHandle = opened.handle
  }

  /** Whether the process's first thread carries an XSAVE area (then gdb gets the AVX registers too). */
  private async hasXsave(): Promise<boolean> {
    const [first] = (await this.client.list(`${this.path}/threads`).catch((err: unknown) => { if (isGone(err)) return []; throw err })).filter((e) => e.type === 'branch')
    if (first === undefined) return false
    const json: unknown = JSON.parse((await this.readSmall(`${this.path}/threads/${first.name}/registers.json`)).toString('utf8'))
    return isRecord(json) && typeof json['xsave'] === 'string'
  }

  private async readSmall(path: string): Promise<Buffer> {
    const opened = await this.client.open(path)
    try {
      const [result] = await this.client.read(opened.handle, [{ addr: 0n, length: Number(opened.sizeBytes ?? 1n << 20n) }])
      if (result === undefined || !result.ok) throw result?.ok === false ? result.error : new MemweaveError('cli', 'io', `reading ${path} gave nothing`)
      return Buffer.from(result.data)
    } finally {
      await this.client.close(opened.handle)
    }
  }

  async name(): Promise<string> {
    const info: unknown = JSON.parse((await this.readSmall(`${this.path}/info`)).toString('utf8'))
    return isRecord(info) && typeof info['name'] === 'string' ? info['name'] : '?'
  }

  /** Every thread with its registers, as of now. */
  async threads(): Promise<TargetThread[]> {
    const entries = await this.client.list(`${this.path}/threads`)
    const tids = entries.filter((e) => e.type === 'branch').map((e) => Number(e.name)).filter((n) => Number.isSafeInteger(n) && n > 0)
    const threads: TargetThread[] = []
    for (const tid of tids) {
      const [info, registers] = await Promise.all([
        this.readSmall(`${this.path}/threads/${tid}/info`),
        this.readSmall(`${this.path}/threads/${tid}/registers.json`),
      ])
      const parsed: unknown = JSON.parse(info.toString('utf8'))
      threads.push({ tid, name: isRecord(parsed) && typeof parsed['name'] === 'string' ? parsed['name'] : '', values: slotValues(JSON.parse(registers.toString('utf8')), this.description) })
    }
    return threads
  }

  async auxv(): Promise<Buffer> {
    return this.readSmall(`${this.path}/auxv`)
  }

  /** Bytes at addr, or undefined when the first byte cannot be read; a read that fails midway returns what came before. */
  async readMemory(addr: bigint, length: number): Promise<Uint8Array | undefined> {
    const handle = this.requireHandle()
    const wanted = Math.min(length, MAX_MEMORY_READ)
    const [whole] = await this.client.read(handle, [{ addr, length: wanted }])
    if (whole?.ok === true) return whole.data
    if (whole?.ok === false && whole.error.kind === 'stale') throw whole.error
    // Page by page: gdb reading across the end of a mapping still gets the readable part.
    const pieces: { addr: bigint; length: number }[] = []
    for (let at = addr; at < addr + BigInt(wanted);) {
      const pageEnd = (at | 0xfffn) + 1n
      const end = pageEnd < addr + BigInt(wanted) ? pageEnd : addr + BigInt(wanted)
      pieces.push({ addr: at, length: Number(end - at) })
      at = end
    }
    const results = await this.client.read(handle, pieces)
    const parts: Uint8Array[] = []
    for (const result of results) {
      if (!result.ok) break
      parts.push(result.data)
    }
    return parts.length === 0 ? undefined : Buffer.concat(parts)
  }

  async writeMemory(addr: bigint, data: Uint8Array): Promise<boolean> {
    if (!this.allowWrite) return false
    const [result] = await this.client.write(this.requireHandle(), [{ addr, data }])
    return result?.ok === true
  }

  private requireHandle(): number {
    if (this.memHandle === undefined) throw new MemweaveError('cli', 'internal', 'gdb target used before open')
    return this.memHandle
  }

  async close(): Promise<void> {
    if (this.memHandle === undefined) return
    const handle = this.memHandle
    this.memHandle = undefined
    await this.client.close(handle).catch(() => undefined)
  }
}

/** Whether an error means the process (or the path to it) is gone. */
export function isGone(err: unknown): err is MemweaveError {
  return err instanceof MemweaveError && (err.kind === 'stale' || err.kind === 'not_found')
}
