/**
 * Turns the extents a batch needs into few large reads: extents are sorted
 * by position and merged while they touch or overlap, or sit within a small
 * gap of each other inside one readable span, up to a size cap. A source
 * with holes between its spans (/proc/PID/mem, /proc/kcore: a hole may be
 * unmapped) gives each extent its span, so a read never crosses a hole; a
 * file is one span. Runs are in position order; two runs may overlap when
 * a cap split them (the shared bytes are read twice). Plain numbers
 * throughout: positions fit in 2^53.
 */

/** One stretch of the fd that a piece needs. */
export interface Extent {
  /** Position on the fd. */
  readonly pos: number
  readonly length: number
  /** Index of the piece in the batch. */
  readonly piece: number
  /** Where the bytes go: inside the piece's output (read) or the target (readInto); -1 when the piece is this one extent (handed back as a view). */
  readonly dest: number
  /** The readable span holding pos: extents in different spans only share a read where they touch. */
  readonly span: number
}

/** One read(2) of [pos, pos+length) serving several extents. */
export interface ReadRun {
  readonly pos: number
  readonly length: number
  readonly extents: readonly Extent[]
}

export interface PlanOptions {
  /** Extents at most this far apart in one span share a read (the gap is read and dropped). */
  readonly gapBytes: number
  /** A run grows only while it stays below this; a single larger extent is read alone. */
  readonly maxRunBytes: number
}

export const DEFAULT_PLAN: PlanOptions = { gapBytes: 16 * 1024, maxRunBytes: 2 * 1024 * 1024 }

export function planReads(extents: readonly Extent[], options: PlanOptions = DEFAULT_PLAN): ReadRun[] {
  const sorted = extents.length < 2 ? extents : [...extents].sort((a, b) => a.pos - b.pos || b.length - a.length)
  const runs: ReadRun[] = []
  let start = 0
  let end = 0
  let span = -1
  let members: Extent[] = []
  for (const extent of sorted) {
    const extentEnd = extent.pos + extent.length
    const mergedEnd = Math.max(end, extentEnd)
    const near = extent.pos <= end || (extent.span === span && extent.pos <= end + options.gapBytes)
    // Joins when near enough and either already covered (free) or the run stays under the cap.
    if (members.length > 0 && near && (extentEnd <= end || mergedEnd - start <= options.maxRunBytes)) {
      members.push(extent)
      end = mergedEnd
      continue
    }
    if (members.length > 0) runs.push({ pos: start, length: end - start, extents: members })
    start = extent.pos
    end = extentEnd
    span = extent.span
    members = [extent]
  }
  if (members.length > 0) runs.push({ pos: start, length: end - start, extents: members })
  return runs
}
