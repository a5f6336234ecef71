/**
 * A Windows kernel crash dump as an image layout:
 *
 *   header (dump-header.ts) ─┬─ 'SDMP'/'FDMP' at the header's end ─▶ bitmap-layout.ts  (physical)
 *                            ├─ DumpType 4 (triage)               ─▶ triage-layout.ts  (kernel virtual)
 *                            └─ DumpType 1 with runs              ─▶ full-layout.ts    (physical)
 *
 * The header's facts travel on as hints for the `windows` OS kind and as
 * the `windowsDump` section of connector/NAME/info.
 */
import { hex } from '../../../mem/index.js'
import { MemweaveError } from '../../../errors/index.js'
import type { WindowsDumpHints } from '../../connector.js'
import { layoutRanges } from '../image-layout.js'
import type { ImageLayout, ImageSegment } from '../image-layout.js'
import { readStruct } from '../image-source.js'
import type { ImageSource } from '../image-source.js'
import { bitmapDumpSegments, hasBitmapMagic } from './bitmap-layout.js'
import type { BitmapFacts } from './bitmap-layout.js'
import { DUMP_TYPES, MACHINE_TYPES, parseDumpHeader } from './dump-header.js'
import type { DumpHeader } from './dump-header.js'
import { fullDumpSegments } from './full-layout.js'
import { triageDumpSegments } from './triage-layout.js'
import type { TriageFacts } from './triage-layout.js'

export { hasWindowsDumpMagic } from './dump-header.js'

export interface WindowsDumpLayout extends ImageLayout {
  readonly windowsDump: { readonly hints: WindowsDumpHints; readonly info: Record<string, unknown> }
}

function dumpTypeName(type: number): string {
  return DUMP_TYPES[type] ?? `unknown (${type})`
}

function hintsOf(header: DumpHeader, triage: TriageFacts | undefined): WindowsDumpHints {
  return {
    bits: header.bits,
    dumpType: dumpTypeName(header.dumpType),
    build: header.build,
    machine: MACHINE_TYPES[header.machineType] ?? `0x${header.machineType.toString(16)}`,
    dtb: header.dtb,
    kdDebuggerDataBlock: header.kdDebuggerDataBlock,
    psActiveProcessHead: header.psActiveProcessHead,
    psLoadedModuleList: header.psLoadedModuleList,
    bugcheckCode: header.bugcheckCode,
    paeEnabled: header.paeEnabled,
    ...(triage !== undefined ? { triage: { debuggerData: triage.debuggerData, process: triage.process, thread: triage.thread, drivers: triage.drivers } } : {}),
  }
}

function infoOf(header: DumpHeader, bitmap: BitmapFacts | undefined, triage: TriageFacts | undefined): Record<string, unknown> {
  return {
    signature: header.bits === 64 ? 'PAGEDU64' : 'PAGEDUMP',
    dumpType: dumpTypeName(header.dumpType),
    majorVersion: header.majorVersion,
    build: header.build,
    machine: MACHINE_TYPES[header.machineType] ?? `0x${header.machineType.toString(16)}`,
    machineType: `0x${header.machineType.toString(16)}`,
    processors: header.processors,
    dtb: hex(header.dtb),
    pfnDatabase: hex(header.pfnDatabase),
    psLoadedModuleList: hex(header.psLoadedModuleList),
    psActiveProcessHead: hex(header.psActiveProcessHead),
    kdDebuggerDataBlock: hex(header.kdDebuggerDataBlock),
    bugcheck: { code: `0x${header.bugcheckCode.toString(16)}`, parameters: header.bugcheckParameters.map(hex) },
    ...(header.paeEnabled !== undefined ? { paeEnabled: header.paeEnabled } : {}),
    ...(header.runs !== undefined ? { physicalRuns: header.runs.length, physicalPages: Number(header.numberOfPages ?? 0n) } : {}),
    ...(bitmap !== undefined ? { bitmap: { ...bitmap, declaredPresentPages: bitmap.declaredPresentPages === undefined ? undefined : Number(bitmap.declaredPresentPages) } } : {}),
    ...(triage !== undefined ? {
      triage: {
        dataBlocks: triage.blockCount, dataBlockBytes: triage.blockBytes, drivers: triage.drivers.length,
        debuggerDataBytes: triage.debuggerData?.length ?? 0, debuggerDataMapped: triage.debuggerDataMapped,
        processCopyBytes: triage.process?.length ?? 0, threadCopyBytes: triage.thread?.length ?? 0,
        note: 'kernel virtual addresses only: a triage dump holds no page tables and no physical pages',
      },
    } : {}),
  }
}

export async function parseWindowsDump(source: ImageSource): Promise<WindowsDumpLayout> {
  const header = await parseDumpHeader(source)
  let segments: ImageSegment[]
  let bitmap: BitmapFacts | undefined
  let triage: TriageFacts | undefined
  const next = source.sizeBytes >= header.headerBytes + 8 ? await readStruct(source, header.headerBytes, 8, 'second header') : new Uint8Array(0)
  if (hasBitmapMagic(next)) {
    ({ segments, facts: bitmap } = await bitmapDumpSegments(source, header))
  } else if (header.dumpType === 4) {
    ({ segments, facts: triage } = await triageDumpSegments(source, header))
  } else if (header.dumpType === 1) {
    segments = fullDumpSegments(source, header)
  } else {
    throw new MemweaveError('connector', 'unsupported', `${source.name}: crash dump type ${dumpTypeName(header.dumpType)} is not supported (full, bitmap and triage dumps are)`)
  }
  const { ranges, duplicates } = layoutRanges(source, segments, triage !== undefined)
  return {
    format: 'windows-dump',
    ranges,
    notes: [],
    addressing: triage !== undefined ? 'virtual' : 'physical',
    duplicateSegments: duplicates,
    windowsDump: { hints: hintsOf(header, triage), info: infoOf(header, bitmap, triage) },
  }
}
