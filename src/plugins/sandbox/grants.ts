/**
 * Capability tokens. Each call the daemon makes to a sandboxed plugin
 * grants it one object under a fresh random token, revoked when the call
 * (or the stream it opened) ends. Callbacks name a token and, optionally,
 * an object; the daemon serves them only from the grant, so a plugin can
 * reach nothing its filter did not admit and no call handed it. Every
 * refusal is logged as a containment event.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { MemweaveError, isRecord } from '../../errors/index.js'
import { MAX_PIECE_BYTES } from '../../mem/index.js'
import type { PieceResult, WriteResult } from '../../mem/index.js'
import { descriptorKey } from '../object-access.js'
import type { ObjectAccess } from '../object-access.js'
import type { ObjectDescriptor } from '../plugin-api.js'
import type { CallbackOp, ChannelPieceResult } from './runtime/channel.js'

export interface Grant {
  readonly access: ObjectAccess
  readonly allowWrite: boolean
}

const MAX_CALLBACK_PIECES = 4096
const MAX_CALLBACK_BYTES = 64 * 1024 * 1024


export class Grants {
  private readonly byToken = new Map<string, Grant>()

  issue(grant: Grant): string {
    const token = randomBytes(16).toString('hex')
    this.byToken.set(token, grant)
    return token
  }

  revoke(token: string): void {
    this.byToken.delete(token)
  }

  revokeAll(): void {
    this.byToken.clear()
  }

  get size(): number {
    return this.byToken.size
  }

  get(token: unknown): Grant | undefined {
    return typeof token === 'string' ? this.byToken.get(token) : undefined
  }
}

/** The key of an object a plugin named in a callback, read defensively (it is untrusted data). */
function namedKey(raw: unknown): string {
  if (!isRecord(raw)) return 'something that is not an object'
  const kind = raw['kind']
  if (kind !== 'process' && kind !== 'module' && kind !== 'os' && kind !== 'connector') return `an object of kind ${JSON.stringify(String(kind)).slice(0, 40)}`
  const text = (key: string): string => String(raw[key]).slice(0, 100)
  switch (kind) {
    case 'process': return `process:${text('osName')}/${text('pid')}@${text('startTime')}`
    case 'module': return `module:${text('osName')}/${raw['pid'] === undefined || raw['pid'] === null ? 'kernel' : text('pid')}/${text('name')}@${text('base')}`
    case 'os': return `os:${text('name')}`
    case 'connector': return `connector:${text('name')}`
  }
}

function readPieces(raw: unknown): { addr: bigint; length: number }[] {
  if (!Array.isArray(raw) || raw.length > MAX_CALLBACK_PIECES) throw new MemweaveError('plugin', 'invalid_argument', `read takes a list of at most ${MAX_CALLBACK_PIECES} pieces`)
  let total = 0
  const pieces = raw.map((p) => {
    const addr = isRecord(p) ? p['addr'] : undefined
    const length = isRecord(p) ? p['length'] : undefined
    const at = typeof addr === 'bigint' ? addr : typeof addr === 'number' && Number.isSafeInteger(addr) ? BigInt(addr) : -1n
    if (at < 0n || at >= 1n << 64n || typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || length > MAX_PIECE_BYTES) {
      throw new MemweaveError('plugin', 'invalid_argument', 'read pieces are {addr: 0..2^64, length: 0..64 MiB}')
    }
    total += length
    return { addr: at, length }
  })
  if (total > MAX_CALLBACK_BYTES) throw new MemweaveError('plugin', 'too_large', `read of ${total} bytes exceeds ${MAX_CALLBACK_BYTES} per callback`)
  return pieces
}

function writePieces(raw: unknown): { addr: bigint; data: Uint8Array }[] {
  if (!Array.isArray(raw) || raw.length > MAX_CALLBACK_PIECES) throw new MemweaveError('plugin', 'invalid_argument', `write takes a list of at most ${MAX_CALLBACK_PIECES} pieces`)
  return raw.map((p) => {
    const addr = isRecord(p) ? p['addr'] : undefined
    const data = isRecord(p) ? p['data'] : undefined
    if (typeof addr !== 'bigint' || addr < 0n || !(data instanceof Uint8Array)) throw new MemweaveError('plugin', 'invalid_argument', 'write pieces are {addr: bigint, data: bytes}')
    return { addr, data }
  })
}

function wire(results: readonly (PieceResult | WriteResult)[]): ChannelPieceResult[] {
  return results.map((r) => (r.ok ? ('data' in r ? { data: r.data } : { ok: true }) : { error: { kind: r.error.kind, message: r.error.message } }))
}

/**
 * Serves one callback of plugin `plugin` from its grants: checks the token,
 * the named object and (for writes) the write permission, then calls the
 * granted object's access.
 */
export async function serveCallback(plugin: string, grants: Grants, log: Logger, op: CallbackOp, message: Record<string, unknown>): Promise<unknown> {
  const grant = grants.get(message['token'])
  if (grant === undefined) {
    log.warn({ plugin, op, containment: 'token' }, `plugin '${plugin}' refused: '${op}' with a capability token that is not valid (never granted, or its call ended)`)
    throw new MemweaveError('plugin', 'permission', `'${op}' refused: the capability token is not valid (never granted, or its call ended)`)
  }
  const named = message['object']
  const granted: ObjectDescriptor = grant.access.descriptor
  if (named !== undefined && named !== null && namedKey(named) !== descriptorKey(granted)) {
    const asked = namedKey(named)
    log.warn({ plugin, op, containment: 'object', asked, granted: descriptorKey(granted) }, `plugin '${plugin}' refused: '${op}' of ${asked}, but this call was granted only ${descriptorKey(granted)}`)
    throw new MemweaveError('plugin', 'permission', `'${op}' of ${asked} refused: this call was granted only ${descriptorKey(granted)}`)
  }
  const { access } = grant
  switch (op) {
    case 'read': return wire(await access.read(readPieces(message['pieces'])))
    case 'write': {
      if (!grant.allowWrite) {
        log.warn({ plugin, op, containment: 'write' }, `plugin '${plugin}' refused: a memory write (it did not ask for writes, or the daemon does not allow them)`)
        throw new MemweaveError('plugin', 'permission', `writes refused: plugin '${plugin}' did not declare needsWrite, or the daemon was not started with --allow-write`)
      }
      return wire(await access.write(writePieces(message['pieces'])))
    }
    case 'ranges': return access.ranges()
    case 'maps': return access.maps()
    case 'info': return access.info()
    case 'modules': return access.modules()
    case 'environ': return access.environ()
  }
}
