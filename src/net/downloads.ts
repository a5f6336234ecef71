/**
 * Downloads streamed to disk (protocol 1.4, for the web page but open to
 * any client). A browser cannot hand a WebSocket stream to its download
 * manager, and a credential must never sit in a URL, so a download is two
 * steps, each under the same rules as every other request:
 *
 *   session ── {op:'download', path, offset?, length?, name?} ──▶ daemon: path visible to the session's
 *           ◀── {ticket, expiresInMs, action:'/download'}          token? a readable, non-control leaf?
 *                                                                  keeps sha256(ticket) → rights + what
 *   browser ── POST /download (form body: ticket=…) ──▶ daemon: Host/Origin checked (as for the page),
 *           ◀── 200 attachment, streamed 1 MiB at a time          ticket used once, rights checked again,
 *                                                                  leaf opened, read, written with backpressure
 *
 * A ticket is bound to one leaf and range, works once within a minute, and
 * only a digest of it is kept. A refused POST answers 204 No Content (so a
 * page that submitted a form stays where it is) with the reason in the
 * `X-Memweave-Refusal` header. A read that fails before anything was sent
 * is such a refusal; one that fails later (an unmapped page in a `mem`
 * range) cuts the response off, so the browser marks the download failed:
 * a file is never silently zero-filled.
 */
import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { MemweaveError, toMemweaveError } from '../errors/index.js'
import { joinPath, runAsClient, splitPath } from '../tree/index.js'
import type { Tree } from '../tree/index.js'
import { AccessGuard } from './auth/access-guard.js'
import { identityFromRights, identityRights } from './auth/credentials.js'
import type { Identity } from './auth/credentials.js'
import { BrowserTickets } from './browser-tickets.js'
import type { DownloadGrant, RequestBodies } from './messages.js'

/** The HTTP path downloads are posted to (on each TCP listener). */
export const DOWNLOAD_ACTION = '/download'
/** How long a download ticket waits for its POST. */
export const DOWNLOAD_TICKET_MS = 60_000
/** Bytes read and written per step: what one download holds at a time. */
const CHUNK_BYTES = 1 << 20
/** Downloads running at once on the daemon; more are refused until one ends. */
const MAX_RUNNING = 4
const MAX_BODY_BYTES = 1024
const NAME_PATTERN = /[^A-Za-z0-9._-]+/g

interface Wanted {
  readonly path: string
  readonly offset: bigint
  readonly length: bigint | undefined
  readonly name: string
}

/** A file name that is safe in a Content-Disposition header on every system. */
function safeName(name: string | undefined, path: string): string {
  const fallback = splitPath(path).slice(-2).join('-')
  const cleaned = (name ?? fallback).replace(NAME_PATTERN, '_').replace(/^[._]+/, '').slice(0, 100)
  return cleaned === '' ? 'memweave-download.bin' : cleaned
}

export class Downloads {
  private readonly tickets = new BrowserTickets({ lifetimeMs: DOWNLOAD_TICKET_MS })
  private running = 0
  private serial = 0

  constructor(private readonly tree: Tree, private readonly log: Logger) {}

  /** The `download` op: checks what the session may fetch now, and gives a ticket for it. */
  async issue(identity: Identity, request: RequestBodies['download'], stat: (path: string) => ReturnType<Tree['stat']>): Promise<DownloadGrant> {
    const path = joinPath(splitPath(request.path))
    new AccessGuard(identity).check('open', path)
    const found = await stat(path)
    const meta = found.meta
    if (found.type !== 'leaf' || meta === undefined) throw new MemweaveError('net', 'invalid_argument', `'${path}' is a branch: only a leaf can be downloaded`)
    if (!meta.readable || meta.content === 'control' || meta.content === 'rpc') throw new MemweaveError('net', 'unsupported', `'${path}' cannot be downloaded: it is not a readable leaf`)
    const offset = request.offset ?? 0n
    if (meta.content === 'mem' && request.length === undefined) {
      throw new MemweaveError('net', 'invalid_argument', `'${path}' is an address space: give a range (offset and length) to download`)
    }
    const wanted: Wanted = { path, offset, length: request.length, name: safeName(request.name, path) }
    const { ticket, expiresInMs } = this.tickets.issue({ ...identityRights(identity), download: wanted })
    const size = request.length ?? (meta.sizeBytes === undefined ? undefined : meta.sizeBytes > offset ? meta.sizeBytes - offset : 0n)
    return { ticket, expiresInMs, action: DOWNLOAD_ACTION, ...(size === undefined ? {} : { sizeBytes: size }) }
  }

  /** POST /download: trades the ticket once and streams the leaf; every refusal is a 204 with its reason. */
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let granted: { identity: Identity; wanted: Wanted }
    try {
      granted = this.redeem(await formTicket(request))
    } catch (err) {
      refuse(response, toMemweaveError(err, 'net', 'download refused').message)
      return
    }
    if (this.running >= MAX_RUNNING) { refuse(response, `${MAX_RUNNING} downloads are running: try again when one ends`); return }
    this.running++
    const owner = `download-${++this.serial}`
    try {
      await runAsClient(owner, () => this.stream(granted.identity, granted.wanted, owner, response))
    } catch (err) {
      const error = toMemweaveError(err, 'net', 'download failed')
      this.log.info({ err: error, path: granted.wanted.path }, 'download failed')
      if (!response.headersSent) refuse(response, error.message)
      else response.destroy(error)
    } finally {
      this.running--
      await this.tree.handles.dropOwner(owner).catch((err: unknown) => this.log.warn({ err }, 'releasing a download handle failed'))
    }
  }

  private redeem(ticket: string): { identity: Identity; wanted: Wanted } {
    const rights = this.tickets.redeem(ticket)
    const wanted = rights['download']
    if (typeof wanted !== 'object' || wanted === null || !('path' in wanted)) throw new MemweaveError('net', 'unauthorized', 'not a download ticket')
    // Issued above with exactly this shape (the store keeps it opaque).
    return { identity: identityFromRights(rights), wanted: wanted as Wanted }
  }

  private async stream(identity: Identity, wanted: Wanted, owner: string, response: ServerResponse): Promise<void> {
    // The token's rights are checked again: it may have lost paths since (a removed token does not matter: the ticket was its last use).
    const guard = new AccessGuard(identity)
    guard.check('open', wanted.path)
    const opened = await guard.checkOpened(wanted.path, await this.tree.open(wanted.path, owner), (handle) => this.tree.close(handle, owner))
    const end = wanted.length !== undefined ? wanted.offset + wanted.length : opened.sizeBytes
    let gone = false
    response.once('close', () => { gone = true })
    for (let at = wanted.offset; end === undefined || at < end;) {
      const want = end === undefined || end - at > BigInt(CHUNK_BYTES) ? CHUNK_BYTES : Number(end - at)
      const [piece] = await this.tree.read(opened.handle, [{ addr: at, length: want }], owner)
      if (piece === undefined || !piece.ok) {
        throw new MemweaveError('net', 'io', `cannot read '${wanted.path}' at 0x${at.toString(16)}: ${piece?.ok === false ? piece.error.message : 'no answer'}`)
      }
      if (!response.headersSent) {
        response.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-disposition': `attachment; filename="${wanted.name}"`,
          ...(end === undefined ? {} : { 'content-length': String(end - wanted.offset) }),
          ...DOWNLOAD_HEADERS,
        })
      }
      if (gone) return
      if (!response.write(piece.data)) await Promise.race([once(response, 'drain'), once(response, 'close')])
      if (gone) return
      at += BigInt(piece.data.length)
      if (piece.data.length < want) {
        if (end !== undefined) throw new MemweaveError('net', 'io', `'${wanted.path}' ended at 0x${at.toString(16)}, before the range did`)
        break
      }
    }
    if (!response.headersSent) response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename="${wanted.name}"`, 'content-length': '0', ...DOWNLOAD_HEADERS })
    response.end()
  }
}

const DOWNLOAD_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; sandbox",
}

function refuse(response: ServerResponse, reason: string): void {
  if (response.headersSent) { response.destroy(); return }
  // Header values are latin-1, one line: the reason is cut to that.
  response.writeHead(204, { 'x-memweave-refusal': reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 300), ...DOWNLOAD_HEADERS })
  response.end()
}

/** The `ticket` field of a small urlencoded form body. */
async function formTicket(request: IncomingMessage): Promise<string> {
  if (request.method !== 'POST') throw new MemweaveError('net', 'invalid_argument', 'downloads are POST requests')
  const type = request.headers['content-type'] ?? ''
  if (!type.startsWith('application/x-www-form-urlencoded')) throw new MemweaveError('net', 'invalid_argument', 'a download is a form (application/x-www-form-urlencoded) with a ticket field')
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of request) {
    const part = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    bytes += part.length
    if (bytes > MAX_BODY_BYTES) throw new MemweaveError('net', 'too_large', 'a download form is a ticket, nothing more')
    chunks.push(part)
  }
  const ticket = new URLSearchParams(Buffer.concat(chunks).toString('latin1')).get('ticket') ?? ''
  if (!/^[0-9a-f]{64}$/.test(ticket)) throw new MemweaveError('net', 'unauthorized', 'the form carries no download ticket')
  return ticket
}
