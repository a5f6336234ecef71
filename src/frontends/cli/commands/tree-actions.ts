/**
 * What ls, stat, cat, read, write and rpc do (tree-commands.ts defines them
 * and loads this file when one runs).
 */
import { readFile, stat as fileStat, writeFile } from 'node:fs/promises'
import { MemweaveError, isRecord, toMemweaveError } from '../../../errors/index.js'
import type { Entry, Stat, TreeClient } from '../../../net/client.js'
import { usageError } from '../cli-errors.js'
import { hexdumpLines, parseHexBytes } from '../hexdump.js'
import { CHUNK_BYTES, callRpc, readJson, readRange, streamLeaf, withLeaf, writeRange } from '../leaf-io.js'
import { formatSize, hex, parseLength, parseOffset } from '../numbers.js'
import type { Output } from '../output.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'
import { widenPipe } from '../stdout-pipe.js'
import { MAX_RANGE_BYTES } from './tree-commands.js'
import type { ListOptions, ReadOptions, WriteOptions } from './tree-commands.js'
const PAGE_BYTES = 4096

type LeafMeta = NonNullable<Entry['meta']>

export function flagsOf(meta: LeafMeta | undefined): string {
  if (meta === undefined) return '---'
  return `${meta.readable ? 'r' : '-'}${meta.writable ? 'w' : '-'}${meta.rpc ? 'x' : '-'}`
}

function entryJson(entry: Entry | Stat, name: string): Record<string, unknown> {
  const meta = entry.meta
  return {
    name, type: entry.type, sizeBytes: meta?.sizeBytes, readable: meta?.readable, writable: meta?.writable,
    rpc: meta?.rpc, content: meta?.content,
  }
}

export async function listCommand(globals: GlobalOptions, path: string, options: ListOptions): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const entries = await listOrSelf(client, path)
    if (out.json) { out.jsonValue(entries.map((e) => entryJson(e, e.name))); return }
    if (options.long !== true) { for (const e of entries) out.line(e.type === 'branch' ? `${e.name}/` : e.name); return }
    const size = (meta: LeafMeta | undefined): string => meta?.sizeBytes === undefined ? (meta === undefined ? '-' : '?')
      : options.human === true ? formatSize(meta.sizeBytes) : meta.sizeBytes.toString()
    out.table(['TYPE', 'SIZE', 'FLAGS', 'CONTENT', 'NAME'], entries.map((e) => [
      e.type, e.type === 'branch' ? '-' : size(e.meta), e.type === 'branch' ? 'd' : flagsOf(e.meta), e.meta?.content ?? '-',
      e.type === 'branch' ? `${e.name}/` : e.name,
    ]))
  })
}

export async function statCommand(globals: GlobalOptions, path: string): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const info = await client.stat(path)
    if (out.json) { out.jsonValue({ ...entryJson(info, info.path.split('/').pop() ?? ''), path: info.path }); return }
    out.line(`path:     ${info.path === '' ? '/' : info.path}`)
    out.line(`type:     ${info.type}`)
    if (info.meta === undefined) return
    out.line(`size:     ${info.meta.sizeBytes === undefined ? 'unknown until opened' : `${info.meta.sizeBytes} (${formatSize(info.meta.sizeBytes)})`}`)
    out.line(`flags:    ${flagsOf(info.meta)} (${[info.meta.readable && 'readable', info.meta.writable && 'writable', info.meta.rpc && 'rpc'].filter(Boolean).join(', ') || 'none'})`)
    out.line(`content:  ${info.meta.content}`)
  })
}

export async function catCommand(globals: GlobalOptions, path: string): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    widenPipe(1, CHUNK_BYTES)
    await streamLeaf(client, path, (chunk) => out.raw(chunk))
  }, { bulk: true })
}

export async function readCommand(globals: GlobalOptions, path: string, options: ReadOptions): Promise<void> {
  const offset = parseOffset(options.offset)
  const length = parseLength(options.length, MAX_RANGE_BYTES, 'use cat, or several reads')
  if (options.hex === true && options.out !== undefined) throw usageError('--hex and --out exclude each other')
  await withClient(globals, async ({ client, out }) => {
    await withLeaf(client, path, async (opened) => {
      const dump = options.hex === true || out.json
      await readJob(client, out, { path, handle: opened.handle, offset, length: clampToSize(path, offset, length, opened.sizeBytes), dump, file: options.out })
    })
  }, { bulk: true })
}

export async function writeCommand(globals: GlobalOptions, path: string, options: WriteOptions): Promise<void> {
  const offset = parseOffset(options.offset)
  const given = [options.hex, options.in, options.string].filter((v) => v !== undefined).length
  if (given !== 1) throw usageError('write needs exactly one of --hex HEX, --in FILE, --string TEXT')
  const data = await writeSource(options)
  await withClient(globals, async ({ client, out }) => {
    await writeRange(client, path, offset, data).catch(async (err: unknown) => { throw await explainRefusedWrite(client, path, err) })
    if (out.json) out.jsonValue({ path, offset, writtenBytes: data.length })
    else out.line(`wrote ${data.length} bytes to ${path} at ${hex(offset)}`)
  })
}

export async function rpcCommand(globals: GlobalOptions, path: string, request: string | undefined, text: boolean): Promise<void> {
  const body = parseRequest(request, text)
  await withClient(globals, async ({ client, out }) => {
    const result = await callRpc(client, path, body)
    if (typeof result === 'string' && !out.json) out.line(result.replace(/\n$/, ''))
    else out.jsonValue(result)
  })
}

/**
 * A memory leaf of a node without --allow-write is simply "not writable";
 * say why, when the node's sys/info confirms writes are off.
 */
async function explainRefusedWrite(client: TreeClient, path: string, err: unknown): Promise<unknown> {
  if (!(err instanceof MemweaveError && err.kind === 'permission') || err.message.includes('--allow-write')) return err
  const [info, leaf] = await Promise.all([readJson(client, 'sys/info').catch(() => undefined), client.stat(path).catch(() => undefined)])
  // Only memory leaves are writable at all; text leaves are never, whatever the node allows.
  if (!isRecord(info) || info.allowWrite !== false || leaf?.meta?.content !== 'mem') return err
  return new MemweaveError(err.origin, err.kind,
    `${err.message}: writes are off on this node (start the daemon with --allow-write, or add --allow-write with --embedded)`, { cause: err })
}

/** Like ls(1): listing a leaf shows that leaf. */
async function listOrSelf(client: TreeClient, path: string): Promise<Entry[]> {
  try {
    return await client.list(path)
  } catch (err) {
    if (!(err instanceof MemweaveError && err.kind === 'not_a_branch')) throw err
    const info = await client.stat(path).catch(() => { throw err })
    if (info.type !== 'leaf') throw err
    return [{ name: info.path.split('/').pop() ?? path, type: 'leaf', meta: info.meta }]
  }
}

function parseRequest(request: string | undefined, text: boolean): unknown {
  if (request === undefined) return text ? '' : null
  if (text) return request
  try {
    return JSON.parse(request)
  } catch (err) {
    throw new MemweaveError('cli', 'invalid_argument', `request '${request.slice(0, 40)}' is not JSON (quote strings as '"text"', or add --text)`, { cause: err })
  }
}

async function writeSource(options: { hex?: string; in?: string; string?: string }): Promise<Uint8Array> {
  if (options.hex !== undefined) return parseHexBytes(options.hex)
  if (options.string !== undefined) return new TextEncoder().encode(options.string)
  const file = options.in ?? ''
  const size = await fileStat(file).then((s) => s.size, (err: unknown) => { throw toMemweaveError(err, 'cli', `cannot read ${file}`) })
  if (size > MAX_RANGE_BYTES) throw usageError(`${file} holds ${formatSize(size)}; write takes at most ${formatSize(MAX_RANGE_BYTES)} at a time`)
  return new Uint8Array(await readFile(file))
}

interface ReadJob {
  readonly path: string
  readonly handle: number
  readonly offset: bigint
  readonly length: number
  /** Hex dump (or JSON) shows unreadable pieces; raw output refuses them. */
  readonly dump: boolean
  readonly file: string | undefined
}

async function readJob(client: TreeClient, out: Output, job: ReadJob): Promise<void> {
  const pieces = await readRange(client, job.handle, job.offset, job.length, job.dump ? PAGE_BYTES : 1024 * 1024)
  const chunks: Uint8Array[] = []
  const readable: boolean[] = []
  for (const piece of pieces) {
    if (!piece.result.ok) {
      if (!job.dump) {
        const error = piece.result.error
        throw new MemweaveError(error.origin, error.kind, `cannot read ${piece.length} bytes of '${job.path}' at ${hex(piece.offset)}: ${error.message}`, { cause: error })
      }
      chunks.push(new Uint8Array(piece.length))
      readable.push(false)
      continue
    }
    chunks.push(piece.result.data)
    readable.push(true)
    if (piece.result.data.length < piece.length) break // end of the leaf
  }
  if (out.json) {
    out.jsonValue({
      path: job.path, offset: job.offset, length: job.length,
      pieces: pieces.slice(0, chunks.length).map((p, i) => (p.result.ok
        ? { offset: p.offset, length: p.result.data.length, data: chunks[i] }
        : { offset: p.offset, length: p.length, error: p.result.error.message })),
    })
    return
  }
  const bytes = Buffer.concat(chunks)
  if (job.dump) {
    const starts: number[] = []
    chunks.reduce((at, chunk) => { starts.push(at); return at + chunk.length }, 0)
    for (const line of hexdumpLines(job.offset, bytes, (index) => readable[pieceIndex(starts, index)] ?? false)) out.line(line)
    return
  }
  if (job.file === undefined) { await out.raw(bytes); return }
  await writeFile(job.file, bytes).catch((err: unknown) => { throw toMemweaveError(err, 'cli', `cannot write ${job.file}`) })
  out.line(`wrote ${bytes.length} bytes to ${job.file}`)
}

/** A read never goes past the end of a leaf whose size is known (like a file); starting beyond it is an error. */
function clampToSize(path: string, offset: bigint, length: number, size: bigint | undefined): number {
  if (size === undefined) return length
  if (offset > size) throw new MemweaveError('cli', 'out_of_bounds', `offset ${hex(offset)} is past the end of '${path}' (${size} bytes)`)
  return offset + BigInt(length) > size ? Number(size - offset) : length
}

/** Which piece holds byte `index`, given each piece's start (ascending). */
function pieceIndex(starts: readonly number[], index: number): number {
  let low = 0
  let high = starts.length - 1
  while (low < high) {
    const mid = (low + high + 1) >> 1
    if ((starts[mid] ?? 0) <= index) low = mid
    else high = mid - 1
  }
  return low
}
