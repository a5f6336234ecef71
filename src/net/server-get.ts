/**
 * The `get` op (1.5): whole small leaves by path in one request, for a
 * client that would otherwise open, read and close each one (a process
 * table is one info leaf per process: three round trips each, or one
 * request in all). A segment `*` stands for every name of that branch:
 *
 *   get {paths: ['os/g/processes/by-pid/*\/info']}
 *     ──▶ list os/g/processes/by-pid (what this identity may see)
 *     ──▶ per name: check → open → read [0, size) → close   (up to CONCURRENCY at a time)
 *     ◀── [{path: 'os/g/processes/by-pid/1/info', data}, {path: …, error}, …]
 *
 * Each leaf passes the same access checks an open and read of it would
 * (hidden paths do not exist; a read token gets no control leaf), and fails
 * alone: a process that exits meanwhile is one `{path, error}`, not a failed
 * request. Only snapshots (text, binary) are read: a memory view has no
 * "whole", and control or rpc leaves are not read.
 */
import { MemweaveError } from '../errors/index.js'
import type { Tree } from '../tree/index.js'
import { joinPath, splitPath } from '../tree/index.js'
import type { AccessGuard } from './auth/access-guard.js'
import { toWireError } from './codec.js'
import type { WireGetResult } from './messages.js'

/** Leaves opened at the same time (each holds a handle only while it is read). */
const CONCURRENCY = 32
/** A leaf bigger than this (or than the request's maxBytes) is that leaf's `too_large` error. */
export const GET_DEFAULT_MAX_BYTES = 1 << 20

export interface GetJob {
  readonly tree: Tree
  readonly owner: string
  readonly guard: AccessGuard
  readonly paths: readonly string[]
  readonly maxBytes?: number
  readonly signal: AbortSignal
}

export async function serveGet(job: GetJob): Promise<WireGetResult[]> {
  const { tree } = job
  const maxBytes = Math.min(job.maxBytes ?? GET_DEFAULT_MAX_BYTES, tree.maxBatchBytes)
  const expanded: Array<{ path: string } | WireGetResult> = []
  for (const pattern of job.paths) {
    try {
      for (const path of await expand(job, splitPath(pattern))) expanded.push({ path })
    } catch (err) {
      expanded.push({ path: pattern, error: toWireError(err) })
    }
    if (expanded.length > tree.maxPieces) throw new MemweaveError('net', 'too_large', `get of more than ${tree.maxPieces} leaves: ask for fewer`)
  }
  // oxlint-disable-next-line unicorn/no-new-array -- a length (typed number); the workers fill it out of order, every slot before it is returned
  const results = new Array<WireGetResult>(expanded.length)
  let next = 0
  let total = 0
  let overflow = false
  const worker = async (): Promise<void> => {
    for (let i = next++; i < expanded.length; i = next++) {
      const item = expanded[i]!
      if ('data' in item || 'error' in item) { results[i] = item; continue }
      try {
        checkCancelled(job.signal)
        const data = await readWhole(job, item.path, maxBytes)
        total += data.length
        overflow = total > tree.maxBatchBytes
        if (overflow) throw new MemweaveError('net', 'too_large', `get of more than ${tree.maxBatchBytes} bytes: ask for fewer leaves`)
        results[i] = { path: item.path, data }
      } catch (err) {
        if (job.signal.aborted || overflow) throw err
        results[i] = { path: item.path, error: toWireError(err) }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, expanded.length) }, worker))
  checkCancelled(job.signal)
  return results
}

function checkCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new MemweaveError('net', 'cancelled', 'get cancelled by the client')
}

/** The paths a pattern stands for: each `*` segment becomes every name of its branch this identity may see. */
async function expand(job: GetJob, parts: readonly string[]): Promise<string[]> {
  const star = parts.indexOf('*')
  if (star < 0) return [joinPath(parts)]
  const branch = joinPath(parts.slice(0, star))
  job.guard.check('list', branch)
  const names = job.guard.filterList(branch, await job.tree.list(branch)).map((e) => e.name)
  const out: string[] = []
  for (const name of names) {
    // A deeper `*` expands per match; a match whose branch is not there (a process gone meanwhile) is left out.
    const rest = [...parts.slice(0, star), name, ...parts.slice(star + 1)]
    out.push(...(rest.includes('*') ? await expand(job, rest).catch(() => []) : [joinPath(rest)]))
    if (out.length > job.tree.maxPieces) break
  }
  return out
}

async function readWhole(job: GetJob, path: string, maxBytes: number): Promise<Uint8Array> {
  const { tree, owner, guard } = job
  guard.check('open', path)
  const opened = await guard.checkOpened(path, await tree.open(path, owner), (handle) => tree.close(handle, owner))
  try {
    const content = opened.meta.content
    if (content !== 'text' && content !== 'binary') {
      throw new MemweaveError('net', 'unsupported', `get reads text and binary leaves; '${path}' is a ${content} leaf (open it instead)`)
    }
    const size = opened.sizeBytes
    if (size !== undefined && size > BigInt(maxBytes)) {
      throw new MemweaveError('net', 'too_large', `'${path}' has ${size} bytes, more than get's ${maxBytes} (read it with open and read)`)
    }
    const [result] = await tree.read(opened.handle, [{ addr: 0n, length: size === undefined ? maxBytes : Number(size) }], owner)
    if (result === undefined) throw new MemweaveError('net', 'internal', `no result reading '${path}'`)
    if (!result.ok) throw result.error
    return result.data
  } finally {
    await tree.close(opened.handle, owner).catch(() => undefined)
  }
}
