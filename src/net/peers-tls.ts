/**
 * TLS between nodes. A daemon with a wss:// listener and no certificate of
 * its own gets a self-signed one, made once by `openssl req -x509` (Node
 * cannot make X.509 certificates) and kept in its state directory. The
 * connecting side either pins that certificate by its SHA-256 fingerprint
 * or trusts a CA file; without either, an untrusted certificate is refused
 * with its fingerprint in the message, so the user can pin it.
 */
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises'
import { isIP } from 'node:net'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import type { ConnectionOptions, TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { MemweaveError, errnoCode, toMemweaveError } from '../errors/index.js'

const run = promisify(execFile)
const CERT_FILE = 'tls-cert.pem'
const KEY_FILE = 'tls-key.pem'

/** $MEMWEAVE_STATE_DIR, else /var/lib/memweave for root, else $XDG_STATE_HOME/memweave (~/.local/state/memweave). */
export function stateDirectory(env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? -1): string {
  const configured = env.MEMWEAVE_STATE_DIR
  if (configured !== undefined && configured !== '') return configured
  if (uid === 0) return '/var/lib/memweave'
  const xdg = env.XDG_STATE_HOME
  return join(xdg !== undefined && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'state'), 'memweave')
}

/** 'AB:CD:…' (upper case, colon separated) from any common spelling: colons or not, any case, 'sha256:' prefix. */
export function normalizeFingerprint(text: string): string {
  const hex = text.trim().replace(/^sha-?256[:=]?/i, '').replace(/[:\s]/g, '').toUpperCase()
  if (!/^[0-9A-F]{64}$/.test(hex)) {
    throw new MemweaveError('config', 'invalid_argument', `'${text.slice(0, 120)}' is not a SHA-256 fingerprint (64 hex digits, colons allowed)`)
  }
  return hex.match(/../g)?.join(':') ?? hex
}

export interface NodeCertificate {
  readonly certFile: string
  readonly keyFile: string
  /** SHA-256 fingerprint of the certificate, 'AB:CD:…'. */
  readonly fingerprint: string
  /** True when this call made it. */
  readonly created: boolean
}

/** The node's own certificate in `dir`, made (self-signed, EC P-256, ten years) when there is none yet. */
export async function ensureNodeCertificate(dir: string): Promise<NodeCertificate> {
  const certFile = join(dir, CERT_FILE)
  const keyFile = join(dir, KEY_FILE)
  const existing = await fingerprintOf(certFile).catch((err: unknown) => {
    if (err instanceof MemweaveError && err.kind === 'not_found') return undefined
    throw err
  })
  if (existing !== undefined) return { certFile, keyFile, fingerprint: existing, created: false }
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw toMemweaveError(err, 'config', `cannot create the state directory ${dir}`)
  }
  // Made under temporary names and renamed, so a daemon starting at the same time never reads half a file.
  const tmp = `.tmp-${process.pid}-${Date.now()}`
  const [tmpCert, tmpKey] = [join(dir, `${CERT_FILE}${tmp}`), join(dir, `${KEY_FILE}${tmp}`)]
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', '/CN=memweave node', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout', tmpKey, '-out', tmpCert,
    ], { timeout: 30_000 })
    await chmod(tmpKey, 0o600)
    await rename(tmpKey, keyFile)
    await rename(tmpCert, certFile)
  } catch (err) {
    await Promise.all([rm(tmpCert, { force: true }), rm(tmpKey, { force: true })])
    const missing = errnoCode(err) === 'ENOENT'
    throw new MemweaveError('config', missing ? 'unsupported' : 'io',
      missing ? 'cannot make a TLS certificate: openssl is not installed (install it, or give --tls-cert and --tls-key)'
        : `cannot make a TLS certificate in ${dir}`, { cause: err })
  }
  return { certFile, keyFile, fingerprint: await fingerprintOf(certFile), created: true }
}

export async function fingerprintOf(certFile: string): Promise<string> {
  let pem: Buffer
  try {
    pem = await readFile(certFile)
  } catch (err) {
    throw toMemweaveError(err, 'config', `cannot read the certificate ${certFile}`)
  }
  try {
    return new X509Certificate(pem).fingerprint256
  } catch (err) {
    throw new MemweaveError('config', 'malformed', `${certFile} is not a PEM certificate`, { cause: err })
  }
}

export interface TlsTrust {
  /** Pinned SHA-256 fingerprint ('AB:CD:…'); when set, only that certificate is accepted (CAs are not consulted). */
  readonly fingerprint?: string
  /** A CA certificate (PEM) to trust instead of the system's. */
  readonly ca?: Buffer
  /** false: accept anything (tests only). */
  readonly rejectUnauthorized?: boolean
}

/**
 * Opens the TLS socket for a wss:// connection and checks the server's
 * certificate once the handshake is done, before the WebSocket upgrade
 * completes and so before the hello (which carries the token) is sent.
 */
export function verifiedTlsSocket(options: ConnectionOptions, trust: TlsTrust, where: string): TLSSocket {
  const host = options.host ?? 'localhost'
  const socket = tlsConnect({
    ...options,
    host,
    servername: isIP(host) === 0 ? host : undefined,
    ca: trust.ca ?? options.ca,
    rejectUnauthorized: false,
  })
  socket.once('secureConnect', () => {
    if (trust.rejectUnauthorized === false) return
    const presented = socket.getPeerCertificate().fingerprint256
    if (trust.fingerprint !== undefined) {
      if (presented !== trust.fingerprint) {
        socket.destroy(new MemweaveError('net', 'unauthorized',
          `the certificate of ${where} does not match the pinned fingerprint: expected SHA256 ${trust.fingerprint}, the server presented ${presented}`))
      }
      return
    }
    if (!socket.authorized) {
      const reason = socket.authorizationError instanceof Error ? socket.authorizationError.message : String(socket.authorizationError)
      socket.destroy(new MemweaveError('net', 'unauthorized',
        `the certificate of ${where} is not trusted (${reason}); its SHA256 fingerprint is ${presented}: pin it (fingerprint=…) or trust its CA`))
    }
  })
  return socket
}
