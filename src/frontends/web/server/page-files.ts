/**
 * The web page's files, as `npm run build` left them in dist/web/ (one
 * bundle, its stylesheet, index.html): read once when the daemon starts,
 * served from memory by GET and HEAD with the strict headers. Anything else
 * is 404 (unknown path) or 405 (other method). index.html is never cached;
 * the bundle and stylesheet carry an ETag and are revalidated on each load. The files hold no secret; the
 * ticket never reaches the server in a URL (it is in the fragment).
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemweaveError, toMemweaveError } from '../../../errors/index.js'
import type { PageServer } from '../../../net/index.js'
import { securityHeaders } from './security-headers.js'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
}

interface PageFile {
  readonly type: string
  readonly bytes: Buffer
  /** A strong validator of the content (the bundle and stylesheet are revalidated, never stored blind). */
  readonly etag: string
}

/** dist/web of the package this code belongs to: the nearest package.json above (from src/ under tsx, from dist/, or installed). */
export function defaultPageDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web')
    const up = dirname(dir)
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), 'web')
    dir = up
  }
}

export async function loadPageFiles(directory = defaultPageDirectory()): Promise<PageServer> {
  let names: string[]
  try {
    names = await readdir(directory)
  } catch (err) {
    throw toMemweaveError(err, 'config', `the web page is not built (${directory}): run npm run build`)
  }
  const files = new Map<string, PageFile>()
  for (const name of names) {
    const type = TYPES[name.slice(name.lastIndexOf('.'))]
    if (type === undefined) continue
    const bytes = await readFile(join(directory, name))
    files.set(`/${name}`, { type, bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` })
  }
  const index = files.get('/index.html')
  if (index === undefined) throw new MemweaveError('config', 'not_found', `the web page is not built (no index.html in ${directory}): run npm run build`)
  files.set('/', index)
  return {
    serve: (request: IncomingMessage, response: ServerResponse, origins): void => {
      const headers = securityHeaders(origins.socket)
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        response.end('only GET and HEAD\n')
        return
      }
      // The query is ignored (nothing secret belongs there); the fragment never arrives.
      const path = (request.url ?? '/').split('?')[0] ?? '/'
      const file = files.get(path)
      if (file === undefined) {
        response.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' })
        response.end('not found\n')
        return
      }
      // index.html is never stored (it is the page a ticket opens); the bundle and stylesheet may be, revalidated on
      // every load (no-cache + ETag: a 304 when unchanged), so Chromium keeps their compiled code between page loads.
      const cache = file === index ? {} : { 'cache-control': 'no-cache', etag: file.etag }
      if (file !== index && request.headers['if-none-match'] === file.etag) {
        response.writeHead(304, { ...headers, ...cache })
        response.end()
        return
      }
      response.writeHead(200, { ...headers, ...cache, 'content-type': file.type, 'content-length': String(file.bytes.length) })
      response.end(request.method === 'HEAD' ? undefined : file.bytes)
    },
  }
}
