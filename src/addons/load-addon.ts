/**
 * Finding a native addon: `native/NAME/` builds `build/native/NAME.node`
 * (scripts/build-native.sh, run by scripts/setup.sh), which sits two levels
 * above this file in the source tree and three in `dist/`. An addon that is
 * missing, fails to load, or lacks a function is simply absent, and every
 * caller keeps a pure-Node path for that case (an npm install without a
 * compiler). MEMWEAVE_NATIVE=0 turns every addon off (the tests of the
 * fallbacks, A/B runs).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)

/** Where an addon would be, nearest first. */
function candidates(name: string): string[] {
  return ['../../build/native/', '../../../build/native/'].map((dir) => fileURLToPath(new URL(`${dir}${name}.node`, import.meta.url)))
}

export interface AddonLoad<T> {
  readonly addon: T | undefined
  /** Why there is none, in words for logs and `sys/` (undefined when loaded). */
  readonly reason: string | undefined
}

/** Loads build/native/NAME.node if it is there and has every function in `functions`. */
export function loadAddon<T>(name: string, functions: readonly (keyof T & string)[]): AddonLoad<T> {
  if (process.env['MEMWEAVE_NATIVE'] === '0') return { addon: undefined, reason: 'MEMWEAVE_NATIVE=0' }
  const path = candidates(name).find((p) => existsSync(p))
  if (path === undefined) return { addon: undefined, reason: `build/native/${name}.node is not built (scripts/build-native.sh)` }
  let loaded: unknown
  try {
    loaded = require(path)
  } catch (err) {
    return { addon: undefined, reason: `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}` }
  }
  if (typeof loaded !== 'object' || loaded === null) return { addon: undefined, reason: `${path} exports nothing` }
  const missing = functions.filter((f) => typeof (loaded as Record<string, unknown>)[f] !== 'function')
  if (missing.length > 0) return { addon: undefined, reason: `${path} lacks ${missing.join(', ')} (an old build? run scripts/build-native.sh)` }
  return { addon: loaded as T, reason: undefined }
}
