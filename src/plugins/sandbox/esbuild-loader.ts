/**
 * esbuild, when this is a checkout (tsx depends on it); an installed
 * package has none and runs the compiled runtime and plugins as written.
 * Its own file so that no declaration the package ships names esbuild's
 * types (a consumer without esbuild could not type-check them).
 */
import { toMemweaveError } from '../../errors/index.js'

/** @internal esbuild's own types: stripped from the shipped declarations. */
export type EsbuildModule = typeof import('esbuild')

/** @internal */
export async function esbuild(): Promise<EsbuildModule | undefined> {
  try {
    return await import('esbuild')
  } catch (err) {
    // Only present in a checkout (tsx depends on it); a built install runs the compiled runtime instead.
    if (err instanceof Error && 'code' in err && err.code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw toMemweaveError(err, 'plugin', 'cannot load esbuild')
  }
}


let bundlerStarted: Promise<boolean> | undefined

/**
 * Starts esbuild's long-lived service process now, if esbuild is here.
 * esbuild spawns it itself, on first use, and closes no descriptors: started
 * after `serve --fuse` mounted, it would inherit /dev/fuse (libfuse 2 opens it
 * without O_CLOEXEC) and could answer the mount's requests. So a mounting
 * daemon starts it first (spawn order); it lives as long as the process.
 */
export function startBundler(): Promise<boolean> {
  bundlerStarted ??= esbuild().then(async (builder) => {
    if (builder === undefined) return false
    await builder.initialize({})
    return true
  })
  return bundlerStarted
}
