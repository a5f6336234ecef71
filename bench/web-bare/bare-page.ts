/**
 * The web bench's bare page: the raw protocol in the same browser, with no UI.
 * Bundled by bench/web.bench.ts (esbuild, in memory) and given only to the
 * bench's own tab, through CDP's Fetch domain, as the /app.js of the daemon's
 * own index.html (with the daemon's security headers): it ships in no product and
 * the daemon never serves it. It does what the page's first script does before any UI code runs,
 * and nothing else: a WebSocket to the daemon, hello with the ticket from the
 * fragment (`#ticket=T&get=PATTERN`), then one `get` of PATTERN, msgpack decoded by
 * the page's own codec. Its clocks go into <html data-*> as the page's do
 * (scriptMs, openMs, helloMs, doneMs, from navigation start).
 *
 * After that, `window.bare` answers the bench's calls through CDP: `read` times one
 * read request (sent → its reply decoded) as the page's hex view would send it, and
 * the bytes' first rows shown the plainest way a browser can (one <pre> of hex
 * text: in the DOM with layout done, then painted), the floor under any hex view.
 */
import { decode, encode } from '../../src/frontends/web/page/wire-codec.js'

interface Reply { readonly id: number; readonly result?: unknown; readonly error?: { readonly message?: string } }

const html = document.documentElement
const mark = (key: string): void => { html.dataset[key] = performance.now().toFixed(1) }
mark('scriptMs')

const found = /^#ticket=([0-9a-f]+)&get=(.*)$/i.exec(window.location.hash)
const ticket = found?.[1] ?? ''
const pattern = decodeURIComponent(found?.[2] ?? '')
const ws = new WebSocket(`${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/`)
ws.binaryType = 'arraybuffer'
const pending = new Map<number, (reply: Reply) => void>()
let nextId = 1

function call(op: string, body: Record<string, unknown>): Promise<Reply> {
  const id = nextId++
  return new Promise((resolve) => {
    pending.set(id, resolve)
    ws.send(encode({ id, op, ...body }))
  })
}

function result(reply: Reply): unknown {
  if (reply.error !== undefined) throw new Error(reply.error.message ?? 'request failed')
  return reply.result
}

ws.addEventListener('message', (event: MessageEvent) => {
  if (!(event.data instanceof ArrayBuffer)) return
  const reply = decode(new Uint8Array(event.data)) as Reply
  if (typeof reply.id !== 'number') return
  const resolve = pending.get(reply.id)
  pending.delete(reply.id)
  resolve?.(reply)
})
ws.addEventListener('close', (event) => { html.dataset['closed'] = event.reason === '' ? String(event.code) : event.reason })
ws.addEventListener('open', () => {
  mark('openMs')
  void (async () => {
    result(await call('hello', { version: { major: 1, minor: 5 }, ticket, client: { name: 'bench-bare' } }))
    mark('helloMs')
    const got = result(await call('get', { paths: [pattern] })) as Array<{ data?: Uint8Array }>
    // Data, not errors: the same leaves the page's table shows.
    html.dataset['leaves'] = String(got.filter((r) => r.data !== undefined).length)
    mark('doneMs')
  })().catch((err: unknown) => { html.dataset['failed'] = err instanceof Error ? err.message : String(err) })
}, { once: true })

const handles = new Map<string, number>()
/** The rows a screen of the page's hex view shows. */
const SCREEN_ROWS = 32
const plain = document.createElement('pre')

/** The bytes as rows of hex text in one <pre>, layout forced: no cells, no inspector, no state. */
function showPlain(bytes: Uint8Array): void {
  const lines: string[] = []
  for (let at = 0; at < bytes.length; at += 16) {
    lines.push(Array.from(bytes.subarray(at, at + 16), (b) => b.toString(16).padStart(2, '0')).join(' '))
  }
  plain.textContent = lines.join('\n')
  if (plain.parentNode === null) document.body.append(plain)
  plain.getBoundingClientRect()
}

/** When the frame showing what is in the DOM now has been made: a task posted from its animation frame callback, as the page measures it. */
function painted(): Promise<number> {
  return new Promise((resolve) => {
    requestAnimationFrame(() => {
      const channel = new MessageChannel()
      channel.port1.onmessage = () => resolve(performance.now())
      channel.port2.postMessage(null)
    })
  })
}

Object.assign(window, {
  bare: {
    /** Reads `length` bytes at `addr` (hex) of the leaf at `path` in one request, as one piece; ms from sent to decoded, and the bytes that came back. */
    async read(path: string, addr: string, length: number, pieces = 1): Promise<{ ms: number; domMs: number; paintMs: number; bytes: number }> {
      let handle = handles.get(path)
      if (handle === undefined) {
        handle = (result(await call('open', { path })) as { handle: number }).handle
        handles.set(path, handle)
      }
      const base = BigInt(`0x${addr}`)
      const each = length / pieces
      const started = performance.now()
      const reply = await call('read', { handle, pieces: Array.from({ length: pieces }, (_, i) => ({ addr: base + BigInt(i * each), length: each })) })
      const ms = performance.now() - started
      const answers = result(reply) as Array<{ data?: Uint8Array }>
      const data = answers[0]?.data ?? new Uint8Array()
      showPlain(data.subarray(0, SCREEN_ROWS * 16))
      const domMs = performance.now() - started
      const paintMs = (await painted()) - started
      return { ms, domMs, paintMs, bytes: answers.reduce((n, a) => n + (a.data?.length ?? 0), 0) }
    },
  },
})
