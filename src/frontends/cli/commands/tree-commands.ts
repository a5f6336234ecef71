/**
 * Commands on any path of the tree: ls, stat, cat, read, write, rpc.
 */
import { readFile, stat as fileStat, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { MemweaveError, isRecord, toMemweaveError } from '../../../errors/index.js'
import type { Entry, Stat, TreeClient } from '../../../net/index.js'
import { usageError } from '../cli-errors.js'
import { hexdumpLines, parseHexBytes } from '../hexdump.js'
import { CHUNK_BYTES, callRpc, readJson, readRange, streamLeaf, withLeaf, writeRange } from '../leaf-io.js'
import { formatSize, hex, parseLength, parseOffset } from '../numbers.js'
import type { Output } from '../output.js'
import { globalsOf, withClient } from '../session.js'
import { widenPipe } from '../stdout-pipe.js'

/** Most bytes `read` and `write` move in one command; cat and dump stream without a limit. */
export const MAX_RANGE_BYTES = 64 * 1024 * 1024
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

export function addTreeCommands(program: Command): void {
  program.command('ls').description('list a branch (the root by default)')
    .argument('[path]', 'branch to list', '')
    .option('-l, --long', 'a table with type, size, flags (r read, w write, x rpc) and content')
    .option('-H, --human', 'sizes as KiB/MiB in the long listing')
    .action(async (path: string, options: { long?: boolean; human?: boolean }, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
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
    })

  program.command('stat').description('type, size and flags of one path')
    .argument('<path>')
    .action(async (path: string, _options: unknown, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
        const info = await client.stat(path)
        if (out.json) { out.jsonValue({ ...entryJson(info, info.path.split('/').pop() ?? ''), path: info.path }); return }
        out.line(`path:     ${info.path === '' ? '/' : info.path}`)
        out.line(`type:     ${info.type}`)
        if (info.meta === undefined) return
        out.line(`size:     ${info.meta.sizeBytes === undefined ? 'unknown until opened' : `${info.meta.sizeBytes} (${formatSize(info.meta.sizeBytes)})`}`)
        out.line(`flags:    ${flagsOf(info.meta)} (${[info.meta.readable && 'readable', info.meta.writable && 'writable', info.meta.rpc && 'rpc'].filter(Boolean).join(', ') || 'none'})`)
        out.line(`content:  ${info.meta.content}`)
      })
    })

  program.command('cat').description('copy a leaf to stdout (to its size, or to the end of its data)')
    .argument('<path>')
    .action(async (path: string, _options: unknown, command: Command) => {
      await withClient(globalsOf(command), async ({ client, out }) => {
        widenPipe(1, CHUNK_BYTES)
        await streamLeaf(client, path, (chunk) => out.raw(chunk))
      })
    })

  program.command('read').description('read a byte range of a leaf')
    .argument('<path>')
    .option('--offset <n>', 'where to start (decimal or 0x hex)', '0')
    .requiredOption('--length <n>', `how many bytes (at most ${formatSize(MAX_RANGE_BYTES)}; k/m suffixes allowed)`)
    .option('--hex', 'print an xxd-style hex dump; unreadable bytes show as ??')
    .option('--out <file>', 'write the bytes to a file')
    .action(async (path: string, options: { offset: string; length: string; hex?: boolean; out?: string }, command: Command) => {
      const offset = parseOffset(options.offset)
      const length = parseLength(options.length, MAX_RANGE_BYTES, 'use cat, or several reads')
      if (options.hex === true && options.out !== undefined) throw usageError('--hex and --out exclude each other')
      await withClient(globalsOf(command), async ({ client, out }) => {
        await withLeaf(client, path, async (opened) => {
          const dump = options.hex === true || out.json
          await readCommand(client, out, { path, handle: opened.handle, offset, length: clampToSize(path, offset, length, opened.sizeBytes), dump, file: options.out })
        })
      })
    })

  program.command('write').description('write bytes into a leaf (memory needs a daemon started with --allow-write)')
    .argument('<path>')
    .option('--offset <n>', 'where to write (decimal or 0x hex)', '0')
    .option('--hex <hex>', 'the bytes as hex ("deadbeef", "de ad be ef")')
    .option('--in <file>', 'the bytes of a file')
    .option('--string <text>', 'the UTF-8 bytes of a string')
    .action(async (path: string, options: { offset: string; hex?: string; in?: string; string?: string }, command: Command) => {
      const offset = parseOffset(options.offset)
      const given = [options.hex, options.in, options.string].filter((v) => v !== undefined).length
      if (given !== 1) throw usageError('write needs exactly one of --hex HEX, --in FILE, --string TEXT')
      const data = await writeSource(options)
      await withClient(globalsOf(command), async ({ client, out }) => {
        await writeRange(client, path, offset, data).catch(async (err: unknown) => { throw await explainRefusedWrite(client, path, err) })
        if (out.json) out.jsonValue({ path, offset, writtenBytes: data.length })
        else out.line(`wrote ${data.length} bytes to ${path} at ${hex(offset)}`)
      })
    })

  program.command('rpc').description('call a leaf that takes RPCs (x flag) with a JSON request')
    .argument('<path>')
    .argument('[request]', 'the request as JSON (default null)')
    .option('--text', 'send the request as a plain string instead of JSON (control leaves take a command line)')
    .action(async (path: string, request: string | undefined, options: { text?: boolean }, command: Command) => {
      const body = parseRequest(request, options.text === true)
      await withClient(globalsOf(command), async ({ client, out }) => {
        const result = await callRpc(client, path, body)
        if (typeof result === 'string' && !out.json) out.line(result.replace(/\n$/, ''))
        else out.jsonValue(result)
      })
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

async function readCommand(client: TreeClient, out: Output, job: ReadJob): Promise<void> {
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
