/**
 * @module arch/testing
 * Fakes for tests, kept out of the production index: a sparse in-memory
 * physical memory and seeded x86-64 page tables that know what they map
 * (an oracle for the walker). Published as `memweave/testing`.
 */
export { SparseMemory, patternByte } from './fake-memory.js'
export type { SparseMemoryOptions } from './fake-memory.js'
export { FakePageTables, seededRandom, PAGE_2M, PAGE_1G } from './fake-page-tables.js'
export type { FakeMapping, FakePerms, FakePageTablesOptions } from './fake-page-tables.js'
export { FakeAarch64Tables } from './fake-aarch64-tables.js'
