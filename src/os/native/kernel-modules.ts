/**
 * The host kernel's modules from /proc/modules:
 *   NAME SIZE REFCOUNT DEPS STATE ADDRESS [TAINTS]
 * The address reads as 0 unless the reader may see kernel pointers (root,
 * kptr_restrict); that is kept in `extra.addressHidden`. A kernel built
 * without module support has no /proc/modules: no modules.
 */
import { virtAddr } from '../../mem/index.js'
import type { ModuleInfo } from '../os-model.js'
import { readProcText } from './proc-files.js'

export function parseProcModules(text: string): ModuleInfo[] {
  const out: ModuleInfo[] = []
  for (const line of text.split('\n')) {
    const [name, size, refcount, deps, state, address, ...taints] = line.trim().split(/\s+/)
    if (name === undefined || name === '' || size === undefined) continue
    const base = address !== undefined && /^0x[0-9a-f]+$/i.test(address) ? BigInt(address) : 0n
    out.push({
      name,
      base: virtAddr(base),
      sizeBytes: /^[0-9]+$/.test(size) ? BigInt(size) : 0n,
      path: undefined,
      extra: {
        refcount: refcount === undefined || refcount === '-' ? null : Number(refcount),
        usedBy: deps === undefined || deps === '-' ? [] : deps.split(',').filter((d) => d.length > 0),
        state: state ?? null,
        taints: taints.join(' ').replace(/[()]/g, '') || null,
        addressHidden: base === 0n,
      },
    })
  }
  return out
}

export async function readKernelModules(): Promise<ModuleInfo[]> {
  const text = await readProcText('/proc/modules')
  return text === undefined ? [] : parseProcModules(text)
}
