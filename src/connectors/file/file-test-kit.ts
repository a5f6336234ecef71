/**
 * Shared pieces for this folder's tests (and e2e tests): temp directories,
 * a quiet connector context and a one-call "write image, open connector".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { physAddr } from '../../mem/index.js'
import type { PieceResult, WriteResult } from '../../mem/index.js'
import { Lifetime, parseKindArgs } from '../../tree/index.js'
import type { Connector, ConnectorContext } from '../connector.js'
import { fileConnectorKind } from './file-connector.js'

export const quietLog = pino({ level: 'silent' })

export function testContext(allowWrite = false): ConnectorContext {
  return { allowWrite, log: quietLog, parentLifetime: new Lifetime('test node'), description: "connector 'dump'" }
}

export interface TempDir {
  readonly path: string
  file(name: string): string
  remove(): Promise<void>
}

export async function tempDir(prefix = 'mw-file-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, file: (name) => join(path, name), remove: () => rm(path, { recursive: true, force: true }) }
}

/** Writes bytes to dir/name and opens a file connector on it with extra args ("strict=true"). */
export async function openImage(dir: TempDir, name: string, bytes: Uint8Array, extra = '', allowWrite = false): Promise<Connector> {
  const path = dir.file(name)
  await writeFile(path, bytes)
  return openPath(path, extra, allowWrite)
}

/** `allowWrite`: a node with writes allowed and a connector asking for them (writable=true, unless extra says otherwise). */
export function openPath(path: string, extra = '', allowWrite = false): Promise<Connector> {
  const args = [extra, allowWrite && !/\b(readonly|writable)=/.test(extra) ? 'writable=true' : ''].filter((a) => a !== '').join(',')
  const raw = args === '' ? path.replaceAll(',', '\\,') : `${path.replaceAll(',', '\\,')},${args}`
  return fileConnectorKind.create(parseKindArgs(raw), testContext(allowWrite))
}

/** Reads one piece and returns its data, or throws its error. */
export async function readBytes(connector: Connector, addr: bigint, length: number): Promise<Uint8Array> {
  const [result] = await connector.mem.read([{ addr: physAddr(addr), length }])
  if (result === undefined) throw new Error('no result')
  if (!result.ok) throw result.error
  return result.data
}

/** The error kind of a failed piece, or 'ok'. */
export function kindOf(result: PieceResult | WriteResult | undefined): string {
  if (result === undefined) return 'missing'
  return result.ok ? 'ok' : result.error.kind
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = (seed | 0) || 0x9e3779b9
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}
