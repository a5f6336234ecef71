/**
 * The TOML config file (docs/config.example.toml): where to listen, whether
 * writes are allowed, the token file, TLS files, peers to connect to, and
 * connectors and OSs to create at start. Unknown keys and wrong types are refused naming the file
 * and the key, so a typo never silently does nothing.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parse, TomlError } from 'smol-toml'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import type { ObjectSpec } from './control-lines.js'

export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
}

export interface MemweaveConfig {
  readonly file: string
  readonly listen: readonly string[] | undefined
  readonly allowWrite: boolean | undefined
  readonly tokenFile: string | undefined
  readonly logLevel: string | undefined
  readonly tls: TlsFiles | undefined
  readonly objects: readonly ObjectSpec[]
  /** Peers in the form of serve --connect: NAME=URL[,token-file=F][,fingerprint=SHA256][,ca=F]. */
  readonly peers: readonly string[]
  /** Browser origins allowed besides the daemon's own. */
  readonly allowedOrigins: readonly string[]
  /** Folders whose files clients may open with file: (absolute). */
  readonly fileRoots: readonly string[]
  /** Folders whose plugin files clients may load (absolute). */
  readonly pluginRoots: readonly string[]
  /** A group allowed on the unix sockets (name or gid), like serve --socket-group. */
  readonly socketGroup: string | undefined
}

type Table = Record<string, unknown>

const TOP_KEYS = ['listen', 'allow_write', 'token_file', 'log_level', 'tls', 'connector', 'os', 'peer', 'allowed_origins', 'file_roots', 'plugin_roots', 'socket_group']
const PEER_KEYS = ['name', 'url', 'token_file', 'fingerprint', 'ca_file']
const CONNECTOR_KEYS = ['name', 'kind', 'args', 'chain_on']
const OS_KEYS = ['name', 'kind', 'args', 'connector']

export async function loadConfig(file: string): Promise<MemweaveConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw toMemweaveError(err, 'config', `cannot read config ${file}`)
  }
  return parseConfig(text, file)
}

export function parseConfig(text: string, file: string): MemweaveConfig {
  let doc: Table
  try {
    doc = parse(text)
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.split('\n')[0] ?? 'invalid TOML'
      throw new MemweaveError('config', 'malformed', `${file}:${err.line}:${err.column}: ${reason}`, { cause: err })
    }
    throw new MemweaveError('config', 'malformed', `${file}: not valid TOML`, { cause: err })
  }
  const check = new ConfigChecker(file)
  check.keys(doc, TOP_KEYS, '')
  const base = dirname(resolve(file))
  const tlsTable = doc.tls === undefined ? undefined : check.table(doc.tls, 'tls')
  if (tlsTable !== undefined) check.keys(tlsTable, ['cert_file', 'key_file'], 'tls.')
  const tls = tlsTable === undefined ? undefined : {
    certFile: resolve(base, check.requiredString(tlsTable.cert_file, 'tls.cert_file')),
    keyFile: resolve(base, check.requiredString(tlsTable.key_file, 'tls.key_file')),
  }
  const tokenFile = check.optionalString(doc.token_file, 'token_file')
  const objects = [
    ...check.tables(doc.connector, 'connector').map((t, i) => check.object(t, 'connector', i)),
    ...check.tables(doc.os, 'os').map((t, i) => check.object(t, 'os', i)),
  ]
  const peers = check.tables(doc.peer, 'peer').map((t, i) => {
    const where = `peer[${i}]`
    check.keys(t, PEER_KEYS, `${where}.`)
    const parts = [`${check.requiredString(t.name, `${where}.name`)}=${check.requiredString(t.url, `${where}.url`)}`]
    const tokenFileOfPeer = check.optionalString(t.token_file, `${where}.token_file`)
    const fingerprint = check.optionalString(t.fingerprint, `${where}.fingerprint`)
    const caFile = check.optionalString(t.ca_file, `${where}.ca_file`)
    if (tokenFileOfPeer !== undefined) parts.push(`token-file=${resolve(base, tokenFileOfPeer)}`)
    if (fingerprint !== undefined) parts.push(`fingerprint=${fingerprint}`)
    if (caFile !== undefined) parts.push(`ca=${resolve(base, caFile)}`)
    return parts.join(',')
  })
  return {
    file,
    peers,
    listen: doc.listen === undefined ? undefined : check.strings(doc.listen, 'listen'),
    allowWrite: check.optionalBoolean(doc.allow_write, 'allow_write'),
    allowedOrigins: doc.allowed_origins === undefined ? [] : check.strings(doc.allowed_origins, 'allowed_origins'),
    fileRoots: doc.file_roots === undefined ? [] : check.strings(doc.file_roots, 'file_roots').map((dir) => resolve(base, dir)),
    pluginRoots: doc.plugin_roots === undefined ? [] : check.strings(doc.plugin_roots, 'plugin_roots').map((dir) => resolve(base, dir)),
    socketGroup: typeof doc.socket_group === 'number' ? socketGroupNumber(check, doc.socket_group) : check.optionalString(doc.socket_group, 'socket_group'),
    tokenFile: tokenFile === undefined ? undefined : resolve(base, tokenFile),
    logLevel: check.optionalString(doc.log_level, 'log_level'),
    tls,
    objects,
  }
}

function socketGroupNumber(check: ConfigChecker, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) check.fail('socket_group', 'must be a group name or a gid')
  return String(value)
}

class ConfigChecker {
  constructor(private readonly file: string) {}

  fail(key: string, message: string): never {
    throw new MemweaveError('config', 'invalid_argument', `${this.file}: ${key}: ${message}`)
  }

  keys(table: Table, known: readonly string[], prefix: string): void {
    for (const key of Object.keys(table)) {
      if (!known.includes(key)) this.fail(`${prefix}${key}`, `unknown key (known: ${known.join(', ')})`)
    }
  }

  table(value: unknown, key: string): Table {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) this.fail(key, 'must be a table')
    return Object.fromEntries(Object.entries(value))
  }

  tables(value: unknown, key: string): Table[] {
    if (value === undefined) return []
    if (!Array.isArray(value)) this.fail(key, `must be an array of tables ([[${key}]])`)
    return value.map((item: unknown, i) => this.table(item, `${key}[${i}]`))
  }

  requiredString(value: unknown, key: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(key, 'must be a non-empty string')
    return value
  }

  optionalString(value: unknown, key: string): string | undefined {
    return value === undefined ? undefined : this.requiredString(value, key)
  }

  optionalBoolean(value: unknown, key: string): boolean | undefined {
    if (value !== undefined && typeof value !== 'boolean') this.fail(key, 'must be true or false')
    return value
  }

  strings(value: unknown, key: string): string[] {
    if (!Array.isArray(value)) this.fail(key, 'must be an array of strings')
    return value.map((item: unknown, i) => this.requiredString(item, `${key}[${i}]`))
  }

  object(table: Table, what: 'connector' | 'os', index: number): ObjectSpec {
    const at = `${what}[${index}]`
    this.keys(table, what === 'connector' ? CONNECTOR_KEYS : OS_KEYS, `${at}.`)
    const name = this.requiredString(table.name, `${at}.name`)
    const on = this.optionalString(what === 'connector' ? table.chain_on : table.connector, `${at}.${what === 'connector' ? 'chain_on' : 'connector'}`)
    return {
      what,
      name,
      on,
      kind: this.requiredString(table.kind, `${at}.kind`),
      args: this.args(table.args, `${at}.args`),
      source: `${this.file}: ${at} '${name}'`,
    }
  }

  /** args as a string ("/data/vm.elf,strict=true") or a table ({ target = "/data/vm.elf", strict = true }). */
  private args(value: unknown, key: string): string {
    if (value === undefined) return ''
    if (typeof value === 'string') return value
    const table = this.table(value, key)
    const escape = (text: string): string => text.replaceAll(',', '\\,')
    const parts: string[] = []
    if (table.target !== undefined) parts.push(escape(this.requiredString(table.target, `${key}.target`)))
    for (const [name, item] of Object.entries(table)) {
      if (name === 'target') continue
      if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean' && typeof item !== 'bigint') {
        this.fail(`${key}.${name}`, 'must be a string, number or boolean')
      }
      parts.push(`${name}=${escape(String(item))}`)
    }
    return parts.join(',')
  }
}
