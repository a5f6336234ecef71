/**
 * Finds the ELF images mapped in a process from its maps: every file (and
 * the [vdso]) whose lowest mapping starts with the ELF magic in memory. An
 * image spans from its lowest mapping's start to its highest mapping's end.
 * One batched 4-byte read checks all candidates. Any OS kind can use this.
 */
import { basename } from 'node:path'
import { ELF_MAGIC, hasElfMagic } from '../connectors/index.js'
import { virtAddr } from '../mem/index.js'
import type { VirtAddr, VirtualMemory } from '../mem/index.js'
import type { MapEntry, ModuleInfo } from './os-model.js'

interface Candidate {
  readonly path: string
  start: VirtAddr
  end: VirtAddr
}

function isImageCandidate(path: string): boolean {
  return path.startsWith('/') || path === '[vdso]'
}

export async function findElfImages(maps: readonly MapEntry[], mem: VirtualMemory): Promise<ModuleInfo[]> {
  const byPath = new Map<string, Candidate>()
  for (const entry of maps) {
    if (!isImageCandidate(entry.path)) continue
    const known = byPath.get(entry.path)
    if (known === undefined) { byPath.set(entry.path, { path: entry.path, start: entry.start, end: entry.end }); continue }
    if (entry.start < known.start) known.start = entry.start
    if (entry.end > known.end) known.end = entry.end
  }
  const candidates = [...byPath.values()]
  const probes = await mem.read(candidates.map((c) => ({ addr: c.start, length: ELF_MAGIC.length })))
  const images: ModuleInfo[] = []
  candidates.forEach((candidate, i) => {
    const probe = probes[i]
    if (probe === undefined || !probe.ok || probe.data.length < ELF_MAGIC.length) return
    if (!hasElfMagic(probe.data)) return
    images.push({
      name: candidate.path.startsWith('/') ? basename(candidate.path) : candidate.path,
      base: virtAddr(candidate.start),
      sizeBytes: candidate.end - candidate.start,
      path: candidate.path,
    })
  })
  return images.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0))
}
