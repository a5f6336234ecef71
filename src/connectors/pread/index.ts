/**
 * @module connectors/pread
 * The one batched positional-read memory, shared by the file, qemu and
 * kcore connectors:
 *
 *   read([pieces]) ─▶ RangeMap (address → position) ─▶ planReads (merged runs, never across a hole)
 *                  ─▶ pread on one fd (positional-read.ts) ─▶ views, or straight into a readInto target
 */
export { PreadMemory, PREAD_IDEAL_BATCH_SIZE } from './pread-memory.js'
export type { PreadGuard, PreadMemoryOptions, PreadMemoryStats, PreadWords } from './pread-memory.js'
export { DEFAULT_PLAN, planReads } from './read-plan.js'
export type { Extent, PlanOptions, ReadRun } from './read-plan.js'
