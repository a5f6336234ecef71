/**
 * @module connectors/file
 * The `file` connector: a memory image on disk as physical memory.
 *
 *   path ─open─▶ detect (ELF / LiME / Windows dump / raw) ─parse─▶ ImageLayout ─▶ RangeMap
 *   Windows crash dumps (windows-dump/): full (runs), bitmap (SDMP/FDMP), triage (kernel virtual blocks)
 *   read([pieces]) ─▶ segments ─▶ read plan (merged extents) ─▶ pread on one fd ─▶ views
 *   FileWatch (stat ≤100 ms old + fs.watch) ─▶ Lifetime ends when the file is replaced
 */
export { fileConnectorKind, FILE_USAGE, MAX_LISTED_RANGES } from './file-connector.js'
export { parseElfCore } from './elf-core.js'
export { parseLime } from './lime.js'
export { parseWindowsDump } from './windows-dump/windows-dump.js'
export type { WindowsDumpLayout } from './windows-dump/windows-dump.js'
export { parseImage, detectFormat } from './open-image.js'
export { bufferSource } from './image-source.js'
export type { ImageSource } from './image-source.js'
export type { ImageFormat, ImageLayout } from './image-layout.js'
export { writeElfCore, writeLime } from './image-writers.js'
export { writeWindowsDump, writeTriageDump } from './windows-dump/dump-writers.js'
export type { WindowsDumpOptions } from './windows-dump/dump-writers.js'
export type { ElfCoreOptions, ImageRange } from './image-writers.js'
