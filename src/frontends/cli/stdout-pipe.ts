/**
 * Streaming into a pipe (`memweave cat LEAF | consumer`): a pipe holds 64 KiB
 * by default, so each 1 MiB chunk took sixteen wake-ups of both processes.
 * With the mmap addon the pipe is widened toward one chunk (F_SETPIPE_SZ;
 * at most /proc/sys/fs/pipe-max-size, 1 MiB unless raised), so a write
 * moves a megabyte and the consumer takes it in one read. Without the
 * addon, or when the kernel refuses, the pipe stays as it is.
 */
import { fstatSync, readFileSync } from 'node:fs'
import { mmapAddon } from '../../addons/index.js'

/** Widens fd (stdout) to `bytes` when it is a pipe; the pipe's size afterwards, or undefined when left alone. */
export function widenPipe(fd: number, bytes: number): number | undefined {
  const addon = mmapAddon()
  if (addon === undefined) return undefined
  try {
    if (!fstatSync(fd).isFIFO()) return undefined
  } catch {
    return undefined // no such descriptor (stdout closed): nothing to widen, the write reports it
  }
  const size = addon.setPipeSize(fd, Math.min(bytes, pipeMaxBytes()))
  return size > 0 ? size : undefined
}

/** The largest pipe an unprivileged process may ask for. */
function pipeMaxBytes(): number {
  try {
    const max = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'))
    return Number.isSafeInteger(max) && max > 0 ? max : 1024 * 1024
  } catch {
    return 1024 * 1024 // no /proc: the kernel's default limit
  }
}
