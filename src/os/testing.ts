/**
 * @module os/testing
 * A small in-memory OS for tests, kept out of the production index: pages
 * set explicitly, processes and maps chosen by the test. Published as
 * `memweave/testing`.
 */
export { PageMemory, TestOs, TestProcess, mapEntry } from './os-test-kit.js'
export type { TestProcessOptions } from './os-test-kit.js'
