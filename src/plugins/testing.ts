/**
 * @module plugins/testing
 * A PluginContext over bytes in this process, to unit-test a plugin's
 * handlers without a daemon. Published as `memweave/testing`.
 */
export { FAKE_PROCESS, fakeContext } from './plugin-test-kit.js'
export type { FakeContextOptions } from './plugin-test-kit.js'
