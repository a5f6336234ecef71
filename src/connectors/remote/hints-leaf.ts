/**
 * connector/NAME/hints: what an OS layer needs from a connector besides its
 * memory (ELF notes such as QEMU's CPU state, VMCOREINFO) and the memory's
 * metadata, as JSON. A node that builds a connector on another node's
 * connector (the `remote` kind) reads it over the wire, so a Linux guest
 * opens through peers exactly as it does locally.
 *
 *   { "metadata": { "maxAddress": "0x…", "idealBatchSize": 64, "readonly": true, "volatile": false },
 *     "vmcoreinfo": "OSRELEASE=…",               (when the source has one)
 *     "elfNotes": [ { "name": "QEMU", "type": 0, "desc": "<hex>" }, … ],
 *     "cpuRegisters": [ { "cpu": 0, "cr3": "0x…", "cr4": "0x…" | null }, … ] }   (live QEMU over QMP)
 */
import { MemweaveError } from '../../errors/index.js'
import type { MemMetadata } from '../../mem/index.js'
import { jsonLeaf } from '../../tree/index.js'
import type { LeafMapping } from '../../tree/index.js'
import type { ConnectorHints, CpuRegisterSnapshot, ElfNote } from '../connector.js'
import { CONNECTOR_OBJECT } from '../connector-tree.js'
import type { NamedConnector } from '../connector-tree.js'

export interface HintsDocument {
  readonly metadata: { readonly maxAddress: string; readonly idealBatchSize: number; readonly readonly: boolean; readonly volatile: boolean }
  readonly vmcoreinfo?: string
  readonly elfNotes: readonly { readonly name: string; readonly type: number; readonly desc: string }[]
  readonly cpuRegisters?: readonly { readonly cpu: number; readonly cr3: string; readonly cr4: string | null }[]
}

/** Most notes and bytes accepted from a peer (a QEMU dump has one CPU note per vCPU). */
const MAX_NOTES = 4096
const MAX_NOTE_BYTES = 1 << 20
/** QEMU's vCPU limit is far below this. */
const MAX_CPUS = 8192
const HEX64 = /^0x[0-9a-f]{1,16}$/i

export function hintsDocument(hints: ConnectorHints, metadata: MemMetadata): HintsDocument {
  return {
    metadata: {
      maxAddress: `0x${metadata.maxAddress.toString(16)}`, idealBatchSize: metadata.idealBatchSize, readonly: metadata.readonly, volatile: metadata.volatile,
    },
    ...(hints.vmcoreinfo === undefined ? {} : { vmcoreinfo: hints.vmcoreinfo }),
    elfNotes: (hints.elfNotes ?? []).map((note) => ({ name: note.name, type: note.type, desc: Buffer.from(note.desc).toString('hex') })),
    ...(hints.cpuRegisters === undefined ? {} : {
      cpuRegisters: hints.cpuRegisters.map((c) => ({ cpu: c.cpu, cr3: `0x${c.cr3.toString(16)}`, cr4: c.cr4 === undefined ? null : `0x${c.cr4.toString(16)}` })),
    }),
  }
}

export const connectorHintsLeaf: LeafMapping<NamedConnector> = {
  on: CONNECTOR_OBJECT,
  name: 'hints',
  leaf: (object) => jsonLeaf(`${object.identity}/hints`, object.lifetime,
    () => hintsDocument(object.value.connector.hints, object.value.connector.mem.metadata())),
}

function malformed(what: string): MemweaveError {
  return new MemweaveError('connector', 'malformed', `the peer's hints leaf is malformed: ${what}`)
}

function record(value: unknown, what: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`${what} is not an object`)
  return Object.fromEntries(Object.entries(value))
}

/** Checks a hints document from a peer field by field; a peer is not trusted more than a client. */
export function parseHintsDocument(value: unknown): { hints: ConnectorHints; metadata: MemMetadata } {
  const doc = record(value, 'the document')
  const meta = record(doc.metadata, 'metadata')
  const maxAddress = typeof meta.maxAddress === 'string' && /^0x[0-9a-f]{1,16}$/i.test(meta.maxAddress) ? BigInt(meta.maxAddress) : undefined
  const batch = meta.idealBatchSize
  if (maxAddress === undefined) throw malformed('metadata.maxAddress is not a hex address')
  if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1) throw malformed('metadata.idealBatchSize is not a positive integer')
  const metadata: MemMetadata = { maxAddress, idealBatchSize: batch, readonly: meta.readonly === true, volatile: meta.volatile === true }
  const rawNotes = doc.elfNotes ?? []
  if (!Array.isArray(rawNotes) || rawNotes.length > MAX_NOTES) throw malformed(`elfNotes is not a list of at most ${MAX_NOTES}`)
  const elfNotes = rawNotes.map((raw: unknown, i): ElfNote => {
    const note = record(raw, `elfNotes[${i}]`)
    if (typeof note.name !== 'string' || note.name.length > 256) throw malformed(`elfNotes[${i}].name`)
    if (typeof note.type !== 'number' || !Number.isInteger(note.type) || note.type < 0 || note.type > 0xffffffff) throw malformed(`elfNotes[${i}].type`)
    if (typeof note.desc !== 'string' || note.desc.length > 2 * MAX_NOTE_BYTES || !/^(?:[0-9a-f]{2})*$/i.test(note.desc)) throw malformed(`elfNotes[${i}].desc`)
    return { name: note.name, type: note.type, desc: new Uint8Array(Buffer.from(note.desc, 'hex')) }
  })
  const vmcoreinfo = doc.vmcoreinfo
  if (vmcoreinfo !== undefined && (typeof vmcoreinfo !== 'string' || vmcoreinfo.length > MAX_NOTE_BYTES)) throw malformed('vmcoreinfo')
  const cpuRegisters = doc.cpuRegisters === undefined ? undefined : parseCpuRegisters(doc.cpuRegisters)
  return { hints: { elfNotes, ...(vmcoreinfo === undefined ? {} : { vmcoreinfo }), ...(cpuRegisters === undefined ? {} : { cpuRegisters }) }, metadata }
}

function parseCpuRegisters(raw: unknown): CpuRegisterSnapshot[] {
  if (!Array.isArray(raw) || raw.length > MAX_CPUS) throw malformed(`cpuRegisters is not a list of at most ${MAX_CPUS}`)
  return raw.map((item: unknown, i): CpuRegisterSnapshot => {
    const entry = record(item, `cpuRegisters[${i}]`)
    if (typeof entry.cpu !== 'number' || !Number.isSafeInteger(entry.cpu) || entry.cpu < 0) throw malformed(`cpuRegisters[${i}].cpu`)
    if (typeof entry.cr3 !== 'string' || !HEX64.test(entry.cr3)) throw malformed(`cpuRegisters[${i}].cr3`)
    if (entry.cr4 !== null && (typeof entry.cr4 !== 'string' || !HEX64.test(entry.cr4))) throw malformed(`cpuRegisters[${i}].cr4`)
    return { cpu: entry.cpu, cr3: BigInt(entry.cr3), cr4: entry.cr4 === null ? undefined : BigInt(entry.cr4) }
  })
}
