/**
 * Objects in MemProcFS's spirit over any TreeClient: an OS, its processes,
 * their maps, memory and modules, each a thin view on paths of the tree
 * (os/NAME/processes/by-pid/PID/…). A process view keeps its `mem` handle
 * open between reads; when the process goes away the handle goes stale and
 * reads throw a MemweaveError of kind 'stale'. Close views you are done with.
 *
 *   const g = osView(client, 'g')
 *   for (const p of await g.processes()) console.log(p.pid, p.name)
 *   const bash = g.process(100)
 *   const heap = (await bash.maps()).find((m) => m.path === '[heap]')
 *   const bytes = await bash.read(heap.start, 4096)
 *   const libc = await bash.module('libc.so.6')    // libc.base, libc.sizeBytes
 */
import { MemweaveError } from '../errors/index.js'
import { virtAddr } from '../mem/index.js'
import type { PieceResult, VirtAddr } from '../mem/index.js'
import type { TreeClient } from '../net/index.js'
import { SLASH_STAND_IN, parseMaps, parsePidNameSegment, segmentForName } from '../os/index.js'
import type { MapEntry } from '../os/index.js'
import { pieceData, readJson, readText } from './leaf-io.js'

export interface ModuleSummary {
  readonly name: string
  readonly base: VirtAddr
  readonly sizeBytes: bigint
  readonly path: string | undefined
}

export function osView(client: TreeClient, name: string): OsView {
  return new OsView(client, name)
}

export class OsView {
  constructor(readonly client: TreeClient, readonly name: string) {}

  get path(): string {
    return `os/${this.name}`
  }

  /** The OS's info leaf (kind, release, KASLR offset, dtb, …). */
  async info(): Promise<Record<string, unknown>> {
    return recordOf(await readJson(this.client, `${this.path}/info`), `${this.path}/info`)
  }

  /** Every process (kernel threads included), by pid; names as the kernel has them ('kworker/0:1'). */
  async processes(): Promise<ProcessView[]> {
    const entries = await this.client.list(`${this.path}/processes/by-pid-name`)
    return entries.flatMap((e) => {
      const parsed = parsePidNameSegment(e.name)
      return parsed === undefined ? [] : [new ProcessView(this.client, this.name, parsed.pid, parsed.name.replaceAll(SLASH_STAND_IN, '/'))]
    }).sort((a, b) => a.pid - b.pid)
  }

  process(pid: number): ProcessView {
    return new ProcessView(this.client, this.name, pid)
  }

  /** The process of that name with the lowest pid. */
  async processByName(name: string): Promise<ProcessView> {
    const info = await readJson(this.client, `${this.path}/processes/by-name/${segmentForName(name)}/info`)
    const pid = recordOf(info, 'process info').pid
    if (typeof pid !== 'number') throw new MemweaveError('os', 'malformed', `the info of process '${name}' has no pid`)
    return new ProcessView(this.client, this.name, pid, name)
  }
}

export class ProcessView {
  private mem: Promise<number> | undefined

  constructor(readonly client: TreeClient, readonly osName: string, readonly pid: number, readonly name?: string) {}

  get path(): string {
    return `os/${this.osName}/processes/by-pid/${this.pid}`
  }

  async info(): Promise<Record<string, unknown>> {
    return recordOf(await readJson(this.client, `${this.path}/info`), `${this.path}/info`)
  }

  /** The process's mappings, as /proc/PID/maps lists them. */
  async maps(): Promise<MapEntry[]> {
    return parseMaps(await readText(this.client, `${this.path}/maps`))
  }

  /** `length` bytes of virtual memory at `addr`; an unmapped page throws (kind 'unmapped'), a gone process 'stale'. */
  async read(addr: bigint, length: number): Promise<Uint8Array> {
    const [result] = await this.readMany([{ addr, length }])
    return pieceData(result, `process ${this.pid}`, addr)
  }

  /** Many pieces in one batch, a result per piece. */
  async readMany(pieces: readonly { readonly addr: bigint; readonly length: number }[]): Promise<PieceResult[]> {
    return this.client.read(await this.memHandle(), pieces)
  }

  /** Names of the mapped images (ELF objects). */
  async modules(): Promise<string[]> {
    return (await this.client.list(`${this.path}/modules`)).map((e) => e.name)
  }

  async module(name: string): Promise<ModuleSummary> {
    const where = `${this.path}/modules/${segmentForName(name)}/info`
    const info = recordOf(await readJson(this.client, where), where)
    const base = typeof info.base === 'string' ? BigInt(info.base) : typeof info.base === 'number' ? BigInt(info.base) : undefined
    if (base === undefined) throw new MemweaveError('os', 'malformed', `${where} has no base address`)
    return {
      name: typeof info.name === 'string' ? info.name : name,
      base: virtAddr(base),
      sizeBytes: BigInt(typeof info.sizeBytes === 'number' || typeof info.sizeBytes === 'string' ? info.sizeBytes : 0),
      path: typeof info.path === 'string' ? info.path : undefined,
    }
  }

  /** Releases the memory handle (a later read opens a new one). */
  async close(): Promise<void> {
    const mem = this.mem
    this.mem = undefined
    if (mem !== undefined) await this.client.close(await mem)
  }

  private memHandle(): Promise<number> {
    if (this.mem === undefined) {
      const opening = this.client.open(`${this.path}/mem`).then((opened) => opened.handle)
      // A failed open is not kept: the next call tries again.
      void opening.catch(() => { if (this.mem === opening) this.mem = undefined })
      this.mem = opening
    }
    return this.mem
  }
}

function recordOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MemweaveError('os', 'malformed', `${what} is not a JSON object`)
  return Object.fromEntries(Object.entries(value))
}
