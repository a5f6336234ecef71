/**
 * Turns the file extents a batch needs into few large reads: extents are
 * sorted by file offset and merged while they touch, overlap or sit within
 * a small gap of each other, up to a size cap. Runs are in file order; two
 * runs may overlap when a cap split them (the shared bytes are read twice).
 * Plain numbers throughout: file offsets fit in 2^53.
 */

/** One stretch of the file that a piece needs. */
export interface FileExtent {
  readonly offset: number
  readonly length: number
  /** Index of the piece in the batch. */
  readonly piece: number
  /** Where the bytes go inside the piece's output; -1 when the piece is this one extent (handed back as a view). */
  readonly dest: number
}

/** One read(2) of [offset, offset+length) serving several extents. */
export interface ReadRun {
  readonly offset: number
  readonly length: number
  readonly extents: readonly FileExtent[]
}

export interface PlanOptions {
  /** Extents at most this far apart share a read (the gap is read and dropped). */
  readonly gapBytes: number
  /** A run grows only while it stays below this; a single larger extent is read alone. */
  readonly maxRunBytes: number
}

export const DEFAULT_PLAN: PlanOptions = { gapBytes: 16 * 1024, maxRunBytes: 2 * 1024 * 1024 }

export function planReads(extents: readonly FileExtent[], options: PlanOptions = DEFAULT_PLAN): ReadRun[] {
  const sorted = extents.length < 2 ? extents : [...extents].sort((a, b) => a.offset - b.offset || b.length - a.length)
  const runs: ReadRun[] = []
  let start = 0
  let end = 0
  let members: FileExtent[] = []
  for (const extent of sorted) {
    const extentEnd = extent.offset + extent.length
    const mergedEnd = Math.max(end, extentEnd)
    // Joins when near enough and either already covered (free) or the run stays under the cap.
    if (members.length > 0 && extent.offset <= end + options.gapBytes && (extentEnd <= end || mergedEnd - start <= options.maxRunBytes)) {
      members.push(extent)
      end = mergedEnd
      continue
    }
    if (members.length > 0) runs.push({ offset: start, length: end - start, extents: members })
    start = extent.offset
    end = extentEnd
    members = [extent]
  }
  if (members.length > 0) runs.push({ offset: start, length: end - start, extents: members })
  return runs
}
