/**
 * What a plugin may do with one object, whatever its kind: a descriptor
 * (plain data naming it) and calls bound to that object alone (memory,
 * ranges, maps, info, modules, environment). Built-in plugins call these
 * directly; for sandboxed plugins the daemon serves callbacks from them,
 * after checking the capability token (sandbox/grants.ts).
 */
import { CONNECTOR_OBJECT } from '../connectors/index.js'
import type { NamedConnector } from '../connectors/index.js'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { physAddr, virtAddr } from '../mem/index.js'
import type { MemoryView, PieceResult, ReadPiece, VirtAddr, WritePiece, WriteResult } from '../mem/index.js'
import { MODULE_OBJECT, OS_OBJECT, PROCESS_OBJECT, WindowMemory } from '../os/index.js'
import type { ModuleObject, NamedOs, ProcessObject } from '../os/index.js'
import type { ObjectClass } from '../tree/index.js'
import type {
  AttachKind, MemoryRange, ObjectDescriptor, ObjectFeature, PluginMapEntry, PluginModuleInfo,
} from './plugin-api.js'

export interface ObjectAccess {
  readonly descriptor: ObjectDescriptor
  read(pieces: readonly ReadPiece[]): Promise<PieceResult[]>
  write(pieces: readonly WritePiece[]): Promise<WriteResult[]>
  ranges(): Promise<MemoryRange[]>
  maps(): Promise<PluginMapEntry[]>
  info(): Promise<Record<string, unknown>>
  modules(): Promise<PluginModuleInfo[]>
  environ(): Promise<Record<string, string>>
}

/** The tree's object class for each attach kind (the plugin API's public word), and how to reach an object of it. */
export interface AttachTarget<T> {
  readonly class: ObjectClass<T>
  readonly access: (value: T) => ObjectAccess
}

/** Mappings on /proc/PID/mem style views cannot read these; scanning them only yields errors. */
const UNREADABLE_SPECIAL = new Set(['[vvar]', '[vvar_vclock]', '[vsyscall]'])

function unsupported(what: string, kind: AttachKind): Promise<never> {
  return Promise.reject(new MemweaveError('plugin', 'unsupported', `${kind} objects have no ${what}`))
}

/** Wraps a call so failures carry the object's name. */
async function about<R>(description: string, what: string, run: () => Promise<R>): Promise<R> {
  try {
    return await run()
  } catch (err) {
    throw toMemweaveError(err, 'plugin', `${what} of ${description}`)
  }
}

function virtualPieces(pieces: readonly ReadPiece[]): ReadPiece<VirtAddr>[] {
  return pieces.map((p) => ({ addr: virtAddr(p.addr), length: p.length }))
}

function virtualWrites(pieces: readonly WritePiece[]): WritePiece<VirtAddr>[] {
  return pieces.map((p) => ({ addr: virtAddr(p.addr), data: p.data }))
}

export function processAccess(value: ProcessObject): ObjectAccess {
  const { process, os } = value
  const features: ObjectFeature[] = process.environ === undefined ? [] : ['environ']
  const description = `process ${process.ref.pid} (${process.ref.name}) of os '${value.osName}'`
  const maps = (): Promise<PluginMapEntry[]> => about(description, 'maps', async () => (await process.maps()).map((m) => ({
    start: m.start, end: m.end, perms: m.perms, offset: m.offset, path: m.path,
  })))
  return {
    descriptor: {
      kind: 'process', osName: value.osName, osKind: value.osKind, pid: process.ref.pid, ppid: process.ref.ppid,
      name: process.ref.name, startTime: process.ref.startTime, features,
    },
    read: (pieces) => process.mem.read(virtualPieces(pieces)),
    write: (pieces) => process.mem.write(virtualWrites(pieces)),
    ranges: async () => (await maps())
      .filter((m) => m.perms.startsWith('r') && !UNREADABLE_SPECIAL.has(m.path))
      .map((m) => ({ start: m.start, end: m.end, perms: m.perms, path: m.path })),
    maps,
    info: () => about(description, 'info', async () => ({ os: value.osName, osKind: os.kind, ...(await process.info()) })),
    modules: () => about(description, 'modules', async () => (await process.modules()).map((m) => ({ name: m.name, base: m.base, sizeBytes: m.sizeBytes, path: m.path }))),
    environ: () => process.environ === undefined
      ? Promise.reject(new MemweaveError('plugin', 'unsupported', `os '${value.osName}' (${value.osKind}) cannot read environments`))
      : about(description, 'environ', () => process.environ?.() ?? Promise.resolve({})),
  }
}

export function moduleAccess(value: ModuleObject): ObjectAccess {
  const { module, process, os } = value
  let mem: MemoryView | undefined
  if (process !== undefined) mem = new WindowMemory(process.mem, module.base, module.sizeBytes)
  else if (os.kernelModuleMemory !== undefined) mem = os.kernelModuleMemory(module)
  const description = `module ${module.name} of ${process === undefined ? `os '${value.osName}'` : `process ${process.ref.pid}`}`
  const noMemory = (): MemweaveError => new MemweaveError('plugin', 'unsupported', `${description}: its OS cannot read its memory`)
  return {
    descriptor: {
      kind: 'module', osName: value.osName, osKind: os.kind, pid: process?.ref.pid, name: module.name, base: module.base,
      sizeBytes: module.sizeBytes, path: module.path, features: [],
    },
    read: async (pieces) => mem === undefined ? pieces.map(() => ({ ok: false, error: noMemory() })) : mem.read(pieces),
    write: async (pieces) => mem === undefined ? pieces.map(() => ({ ok: false, error: noMemory() })) : mem.write(pieces),
    ranges: async () => [{ start: 0n, end: module.sizeBytes, perms: 'r--p', path: module.path ?? module.name }],
    maps: () => unsupported('maps', 'module'),
    info: async () => ({ ...module, os: value.osName, pid: process?.ref.pid }),
    modules: () => unsupported('modules', 'module'),
    environ: () => unsupported('environment', 'module'),
  }
}

export function osAccess(value: NamedOs): ObjectAccess {
  const { os } = value
  const kernel = os.kernelMemory
  const description = `os '${value.name}'`
  const modules = (): Promise<PluginModuleInfo[]> => about(description, 'kernel modules', async () => (await os.kernelModules())
    .map((m) => ({ name: m.name, base: m.base, sizeBytes: m.sizeBytes, path: m.path })))
  const noKernel = (): MemweaveError => new MemweaveError('plugin', 'unsupported', `${description} (${value.kind}) has no readable kernel memory`)
  return {
    descriptor: {
      kind: 'os', name: value.name, osName: value.name, osKind: value.kind, connectorName: value.connectorName,
      features: kernel === undefined ? [] : ['kernel-memory'],
    },
    read: async (pieces) => kernel === undefined ? pieces.map(() => ({ ok: false, error: noKernel() })) : kernel.read(virtualPieces(pieces)),
    write: async (pieces) => kernel === undefined ? pieces.map(() => ({ ok: false, error: noKernel() })) : kernel.write(virtualWrites(pieces)),
    ranges: async () => kernel === undefined ? [] : (await modules()).map((m) => ({ start: m.base, end: m.base + m.sizeBytes, perms: 'r--p', path: m.name })),
    maps: () => unsupported('maps', 'os'),
    info: () => about(description, 'info', async () => ({ name: value.name, ...(await os.info()) })),
    modules,
    environ: () => unsupported('environment', 'os'),
  }
}

/** Physical ranges a connector reports in its info ({start, end} hex strings), or its whole extent. */
function connectorRanges(info: Record<string, unknown>, maxAddress: bigint): MemoryRange[] {
  const listed = info['ranges']
  if (!Array.isArray(listed) || listed.length === 0 || info['rangesTruncated'] === true) {
    return [{ start: 0n, end: maxAddress, perms: 'rw-p', path: '' }]
  }
  const out: MemoryRange[] = []
  for (const range of listed) {
    if (typeof range !== 'object' || range === null || !('start' in range) || !('end' in range)) continue
    const { start, end } = range
    if ((typeof start === 'string' || typeof start === 'number') && (typeof end === 'string' || typeof end === 'number')) {
      out.push({ start: BigInt(start), end: BigInt(end), perms: 'rw-p', path: '' })
    }
  }
  return out
}

export function connectorAccess(value: NamedConnector): ObjectAccess {
  const { connector } = value
  const description = `connector '${value.name}'`
  const info = (): Promise<Record<string, unknown>> => about(description, 'info', async () => ({ name: value.name, ...(await connector.info()) }))
  return {
    descriptor: { kind: 'connector', name: value.name, connectorKind: value.kind, features: [] },
    read: (pieces) => connector.mem.read(pieces.map((p) => ({ addr: physAddr(p.addr), length: p.length }))),
    write: (pieces) => connector.mem.write(pieces.map((p) => ({ addr: physAddr(p.addr), data: p.data }))),
    ranges: async () => connectorRanges(await info(), connector.mem.metadata().maxAddress),
    maps: () => unsupported('maps', 'connector'),
    info,
    modules: () => unsupported('modules', 'connector'),
    environ: () => unsupported('environment', 'connector'),
  }
}

export const PROCESS_TARGET: AttachTarget<ProcessObject> = { class: PROCESS_OBJECT, access: processAccess }
export const MODULE_TARGET: AttachTarget<ModuleObject> = { class: MODULE_OBJECT, access: moduleAccess }
export const OS_TARGET: AttachTarget<NamedOs> = { class: OS_OBJECT, access: osAccess }
export const CONNECTOR_TARGET: AttachTarget<NamedConnector> = { class: CONNECTOR_OBJECT, access: connectorAccess }

/** A stable key naming one object (same pid and start time = same process). */
export function descriptorKey(d: ObjectDescriptor): string {
  switch (d.kind) {
    case 'process': return `process:${d.osName}/${d.pid}@${d.startTime}`
    case 'module': return `module:${d.osName}/${d.pid ?? 'kernel'}/${d.name}@${d.base}`
    case 'os': return `os:${d.name}`
    case 'connector': return `connector:${d.name}`
  }
}
