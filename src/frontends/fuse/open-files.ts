/**
 * The mount's own file numbers: one per FUSE open, each mapping to the
 * TreeClient handle that open got (the tree may give two opens of one leaf
 * the same handle with a raised count; each FUSE release closes it once).
 */
import type { LeafMeta } from './fuse-stat.js'
import type { DirectFile } from './direct-reads.js'
import type { ReadAhead } from './read-ahead.js'

export interface OpenFile {
  readonly fd: number
  readonly path: string
  readonly handle: number
  readonly meta: LeafMeta
  /** Extent this open sees, when known (mem views, text snapshots). */
  readonly sizeBytes: bigint | undefined
  /** Present for memory leaves while the read-ahead budget allows. */
  readonly readAhead?: ReadAhead
  /** Present when the binding may answer the file's reads itself (direct-reads.ts); revoked at release. */
  readonly direct?: DirectFile
}

/** fuse-native carries file numbers as 32-bit values and treats 0 as "none". */
const MAX_FD = 0x7fffffff

export class OpenFiles {
  private readonly files = new Map<number, OpenFile>()
  private next = 1

  add(file: Omit<OpenFile, 'fd'>): OpenFile {
    while (this.files.has(this.next)) this.advance()
    const opened = { ...file, fd: this.next }
    this.files.set(opened.fd, opened)
    this.advance()
    return opened
  }

  get(fd: number): OpenFile | undefined {
    return this.files.get(fd)
  }

  remove(fd: number): OpenFile | undefined {
    const file = this.files.get(fd)
    this.files.delete(fd)
    return file
  }

  /** What is open now. */
  list(): OpenFile[] {
    return [...this.files.values()]
  }

  get size(): number {
    return this.files.size
  }

  private advance(): void {
    this.next = this.next >= MAX_FD ? 1 : this.next + 1
  }
}
