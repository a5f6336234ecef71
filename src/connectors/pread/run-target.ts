/**
 * For readInto on the positional readers (file, qemu/kcore): a merged read
 * can go straight into the caller's target when the extents it serves sit
 * there in the same order and tile it exactly (sequential pieces, the bulk
 * case); otherwise it is read into scratch memory and each extent copied.
 */

export interface TargetExtent {
  /** Position of the extent on the fd. */
  readonly pos: number
  readonly length: number
  /** Absolute offset in the target. */
  readonly dest: number
}

/** The target offset the run's first byte goes to, when one read can fill the target directly. */
export function directTarget(runPos: number, runLength: number, extents: readonly TargetExtent[]): number | undefined {
  const first = extents[0]
  if (first === undefined || first.pos !== runPos) return undefined
  let end = runPos
  for (const e of extents) {
    if (e.pos !== end || e.dest - first.dest !== e.pos - runPos) return undefined
    end += e.length
  }
  return end === runPos + runLength ? first.dest : undefined
}
