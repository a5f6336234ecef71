/**
 * Full paths of (dentry, vfsmount) pairs, as d_path() prints them: names
 * collected up the d_parent chain to the mount's root, then across to the
 * mountpoint in the parent mount (struct mount embeds the vfsmount, so
 * container_of gives the mount), until a mount that is its own parent.
 * A dentry that is unhashed and not a root is deleted: " (deleted)".
 * All pending paths advance together: each round is one batch of dentry and
 * mount reads, then one batch of name reads. Dentries are cached per resolver.
 */
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { StructLayout } from './btf/index.js'
import { readStructs } from './btf/index.js'
import { isKernelPointer } from './kernel-context.js'
import type { KernelContext } from './kernel-context.js'

interface DentryInfo { readonly parent: bigint; readonly name: string; readonly hashed: boolean }
interface MountInfo { readonly root: bigint; readonly parent: bigint; readonly mountpoint: bigint }

/** Deeper paths than this are treated as loops (PATH_MAX is 4096 bytes, so 2048 components at most). */
const MAX_COMPONENTS = 2048
const MAX_NAME_BYTES = 255
const utf8 = new TextDecoder('utf-8')

export class PathResolver {
  private readonly dentry: StructLayout
  private readonly mount: StructLayout
  private readonly mntOffset: bigint
  private readonly dentries = new Map<bigint, DentryInfo>()
  private readonly mounts = new Map<bigint, MountInfo>()

  constructor(private readonly kernel: KernelContext) {
    this.dentry = kernel.btf.struct('dentry')
    this.mount = kernel.btf.struct('mount')
    this.mntOffset = BigInt(this.mount.field('mnt').offsetBytes)
  }

  /** Paths for many (dentry, vfsmount) pairs; a pair that cannot be resolved gives an error. */
  async resolve(pairs: readonly { dentry: bigint; vfsmount: bigint }[]): Promise<(string | MemweaveError)[]> {
    const states = pairs.map((p) => ({ dentry: p.dentry, mount: p.vfsmount - this.mntOffset, parts: [] as string[], done: false, error: undefined as MemweaveError | undefined }))
    for (let round = 0; round <= MAX_COMPONENTS && states.some((s) => !s.done); round++) {
      await this.load(states.filter((s) => !s.done))
      for (const state of states) {
        if (state.done) continue
        const dentry = this.dentries.get(state.dentry)
        const mount = this.mounts.get(state.mount)
        if (dentry === undefined || mount === undefined) {
          state.error = new MemweaveError('os', 'malformed', `path: cannot read dentry 0x${state.dentry.toString(16)} or its mount`)
          state.done = true
          continue
        }
        if (state.dentry === mount.root || dentry.parent === state.dentry) {
          if (mount.parent === state.mount || !isKernelPointer(this.kernel, mount.parent)) { state.done = true; continue }
          state.dentry = mount.mountpoint
          state.mount = mount.parent
          continue
        }
        state.parts.push(dentry.name)
        state.dentry = dentry.parent
      }
    }
    return states.map((state, i) => {
      if (state.error !== undefined) return state.error
      if (!state.done) return new MemweaveError('os', 'malformed', 'path: more than 2048 components (dentry loop?)')
      const leaf = this.dentries.get(pairs[i]?.dentry ?? 0n)
      const path = `/${state.parts.reverse().join('/')}`
      const deleted = leaf !== undefined && !leaf.hashed && leaf.parent !== pairs[i]?.dentry
      return deleted ? `${path} (deleted)` : path
    })
  }

  private async load(states: readonly { dentry: bigint; mount: bigint }[]): Promise<void> {
    const dentryAddrs = [...new Set(states.map((s) => s.dentry))].filter((d) => !this.dentries.has(d) && isKernelPointer(this.kernel, d))
    const mountAddrs = [...new Set(states.map((s) => s.mount))].filter((m) => !this.mounts.has(m) && isKernelPointer(this.kernel, m))
    const [dentryViews, mountViews] = await Promise.all([
      readStructs(this.kernel.kmem, dentryAddrs.map((a) => virtAddr(a)), this.dentry),
      readStructs(this.kernel.kmem, mountAddrs.map((a) => virtAddr(a)), this.mount),
    ])
    mountViews.forEach((view, i) => {
      const addr = mountAddrs[i]
      if (addr === undefined || view instanceof MemweaveError) return
      this.mounts.set(addr, { root: view.ptr('mnt.mnt_root'), parent: view.ptr('mnt_parent'), mountpoint: view.ptr('mnt_mountpoint') })
    })
    const named: { addr: bigint; parent: bigint; hashed: boolean; name: bigint; length: number }[] = []
    dentryViews.forEach((view, i) => {
      const addr = dentryAddrs[i]
      if (addr === undefined || view instanceof MemweaveError) return
      named.push({ addr, parent: view.ptr('d_parent'), hashed: view.ptr('d_hash.pprev') !== 0n, name: view.ptr('d_name.name'), length: Math.min(view.u32('d_name.len'), MAX_NAME_BYTES) })
    })
    const names = await this.kernel.kmem.read(named.map((n) => ({ addr: virtAddr(n.name), length: n.length })))
    named.forEach((n, i) => {
      const result = names[i]
      if (result === undefined || !result.ok) return
      this.dentries.set(n.addr, { parent: n.parent, hashed: n.hashed, name: utf8.decode(result.data) })
    })
  }
}
