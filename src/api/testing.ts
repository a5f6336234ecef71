/**
 * @module memweave/testing
 * Fakes for testing code built on memweave; never part of the production
 * entry points: a sparse physical memory, seeded page tables that know what
 * they map, an in-memory OS, and a PluginContext over bytes.
 */
export { SparseMemory, patternByte, FakePageTables, seededRandom, PAGE_2M, PAGE_1G } from '../arch/testing.js'
export type { SparseMemoryOptions, FakeMapping, FakePerms, FakePageTablesOptions } from '../arch/testing.js'
export { PageMemory, TestOs, TestProcess, mapEntry } from '../os/testing.js'
export type { TestProcessOptions } from '../os/testing.js'
export { FAKE_PROCESS, fakeContext } from '../plugins/testing.js'
export type { FakeContextOptions } from '../plugins/testing.js'
