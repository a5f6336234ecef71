/**
 * esbuild, when this is a checkout (tsx depends on it); an installed
 * package has none and runs the compiled runtime and plugins as written.
 * Its own file so that no declaration the package ships names esbuild's
 * types (a consumer without esbuild could not type-check them).
 */
import { toMemweaveError } from '../../errors/index.js'

export type EsbuildModule = typeof import('esbuild')

export async function esbuild(): Promise<EsbuildModule | undefined> {
  try {
    return await import('esbuild')
  } catch (err) {
    // Only present in a checkout (tsx depends on it); a built install runs the compiled runtime instead.
    if (err instanceof Error && 'code' in err && err.code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw toMemweaveError(err, 'plugin', 'cannot load esbuild')
  }
}

