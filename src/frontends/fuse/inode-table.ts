/**
 * Inode numbers of the low-level FUSE API ↔ the paths the operations take.
 * The kernel holds an inode from each lookup answered with it until it
 * forgets as many lookups; then the number is free and the path gets a new
 * one if looked up again. The root is inode 1 ('/') and is never forgotten.
 */
export const ROOT_INODE = 1
/** The d_ino of a listed name the kernel has not looked up yet (libfuse's FUSE_UNKNOWN_INO). */
export const UNKNOWN_INODE = 0xffffffff

interface Entry {
  readonly path: string
  lookups: number
}

export class InodeTable {
  private readonly byInode = new Map<number, Entry>([[ROOT_INODE, { path: '/', lookups: 1 }]])
  private readonly byPath = new Map<string, number>([['/', ROOT_INODE]])
  private next = ROOT_INODE + 1

  /** The path of an inode the kernel holds, or undefined. */
  path(inode: number): string | undefined {
    return this.byInode.get(inode)?.path
  }

  /** The inode of a path the kernel holds, if it holds one. */
  peek(path: string): number | undefined {
    return this.byPath.get(path)
  }

  /** One more lookup of path answered: its inode (a new one if the kernel holds none). */
  ref(path: string): number {
    const known = this.byPath.get(path)
    if (known !== undefined) {
      const entry = this.byInode.get(known)
      if (entry !== undefined) entry.lookups++
      return known
    }
    const inode = this.next++
    this.byInode.set(inode, { path, lookups: 1 })
    this.byPath.set(path, inode)
    return inode
  }

  /** The kernel dropped `count` lookups of the inode. */
  forget(inode: number, count: number): void {
    const entry = this.byInode.get(inode)
    if (entry === undefined || inode === ROOT_INODE) return
    entry.lookups -= count
    if (entry.lookups > 0) return
    this.byInode.delete(inode)
    if (this.byPath.get(entry.path) === inode) this.byPath.delete(entry.path)
  }

  /** Inodes the kernel holds, the root included. */
  get size(): number {
    return this.byInode.size
  }
}

/** '/' + 'a' → '/a'; '/a' + 'b' → '/a/b'. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`
}
