/**
 * The web page against the raw protocol, same daemon, same data, same run:
 *
 *   page load → process table shown    vs   the raw protocol reading the same data:
 *                                             - in the same browser: a bare page (no UI: a WebSocket,
 *                                               hello with a ticket, one `get` of every info leaf) loaded
 *                                               from the daemon's origin, navigation start → get answered
 *                                             - from Node: one `get` (1.5); a fresh connection + that get;
 *                                               and the pre-1.5 list + every info leaf (open, read, close)
 *   hex view: a screen of a new region vs   a read of exactly what that screen reads (one 4 KiB page,
 *                                           checked on the wire), from the bare page and from Node
 *
 * The bare page is bench-only: the daemon's own index.html (served by the daemon, with
 * its headers: CSP and all), whose two subresources /app.js and /app.css are answered in
 * that tab (CDP's Fetch domain) with the bare script (bench/web-bare/) and an
 * empty stylesheet, with the daemon's security headers. Its WebSocket passes the same
 * Origin, Host, connect-src and Chromium local-network rules; the daemon never serves it.
 *
 * Every page span is an in-page clock (performance.now()) with a precise
 * start and end, written by the page into data- attributes:
 *   - page load starts at navigation start (the browser asked for the page);
 *     "in the DOM" ends when the table's rows are in the DOM and layout is
 *     done (forced at that moment); "painted" ends when the frame showing
 *     them has been rendered (a task posted from its animation frame).
 *   - a hex screen starts at the go-to's submit event (the Enter key);
 *     "read answered" ends when its read's reply has been decoded, "in the
 *     DOM" when its bytes are in the DOM with layout done, "painted" as above.
 * The browser is Debian's headless Chromium (playwright-core); the Node raw
 * client is the protocol client over the same TCP WebSocket. Times are
 * medians. Goal: the UI adds at most 2× over the protocol.
 */
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { CDPSession, Page } from 'playwright-core'
import { decodeMessage } from '../src/net/codec.js'
import { connectClient } from '../src/net/index.js'
import { securityHeaders } from '../src/frontends/web/server/security-headers.js'
import { linuxFixtures } from '../test/linux-kit.js'
import { haveChromium, launchBrowser } from '../test/web-browser.js'
import { startWebDaemon } from '../test/web-kit.js'
import { emit, row } from './bench-report.js'

const LOADS = 7
const REGIONS = 16
const PAGE = 4096

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

/**
 * Waits in the page until `selector` has data-`key`, and gives that element's data- attributes (with its tbody's
 * row count as `rows`, and its unmapped hex cells as `unmapped`). Through CDP's Runtime.evaluate, not playwright's
 * locators: those inject playwright's own script (hundreds of KB, tens of ms of the page's main thread under load)
 * into the page while it is being timed.
 */
async function shown(cdp: CDPSession, selector: string, key: string, value?: string): Promise<Record<string, string>> {
  const expression = `new Promise((resolve) => {
    const look = () => {
      const element = document.querySelector(${JSON.stringify(selector)})
      const got = element?.dataset[${JSON.stringify(key)}]
      if (element?.dataset.failed !== undefined || element?.dataset.closed !== undefined) { resolve({ ...element.dataset }); return true }
      if (got === undefined || (${JSON.stringify(value ?? null)} !== null && got !== ${JSON.stringify(value ?? null)})) return false
      resolve({ ...element.dataset, rows: String(element.querySelectorAll('tbody tr').length), unmapped: String(element.querySelectorAll('.hex-grid .b.un').length) })
      return true
    }
    if (look()) return
    const observer = new MutationObserver(() => { if (look()) observer.disconnect() })
    observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true })
  })`
  const reply = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true, timeout: 60_000 })
  if (reply.exceptionDetails !== undefined) throw new Error(`waiting for ${selector}: ${reply.exceptionDetails.text}`)
  const got = reply.result.value as Record<string, string>
  if (got['failed'] !== undefined || got['closed'] !== undefined) throw new Error(`the bare page failed: ${got['failed'] ?? `connection closed (${got['closed']})`}`)
  return got
}

async function evaluate<T>(cdp: CDPSession, expression: string): Promise<T> {
  const reply = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true, timeout: 60_000 })
  if (reply.exceptionDetails !== undefined) throw new Error(`${expression}: ${reply.exceptionDetails.exception?.description ?? reply.exceptionDetails.text}`)
  return reply.result.value as T
}

/** The first executable mapping of a process in the guest's truth (its program's text: resident pages to read). */
function programText(maps: string): { start: bigint; end: bigint } {
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp /.exec(line)
    if (m !== null) return { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) }
  }
  throw new Error('no executable mapping in the truth')
}

const fixture = linuxFixtures()[0]
if (fixture === undefined || !haveChromium()) {
  emit({ bench: 'web', description: 'web page vs raw protocol', rows: [], notes: ['skipped: no guest fixture or no Chromium'] })
  process.exit(0)
}
const bareScript = (await build({
  entryPoints: [join(dirname(fileURLToPath(import.meta.url)), 'web-bare', 'bare-page.ts')],
  bundle: true, format: 'esm', target: 'es2022', platform: 'browser', minify: true, write: false, logLevel: 'warning',
})).outputFiles[0]?.text ?? ''

const loadBefore = loadavg()[0] ?? 0
const web = await startWebDaemon([`connector dump file:${fixture.dump}`, 'os guest -c dump linux'])
const browser = await launchBrowser()
try {
  const token = await web.token()
  const client = await connectClient(web.tcp, { name: 'bench', token })
  const pid = fixture.truth.patterns.find((p) => p.kind === 'heap')?.pid ?? 1
  const memPath = `os/guest/processes/by-pid/${pid}/mem`
  const text = programText((fixture.truth.maps as Record<string, string>)[String(pid)] ?? '')
  /** The k-th page of the program's text: the page, the Node client and the bare page each read their own new pages, interleaved. */
  const textPage = (k: number): bigint => {
    const addr = text.start + BigInt(k * PAGE)
    if (addr + BigInt(PAGE) > text.end) throw new Error(`page ${k} is past the program's text`)
    return addr
  }
  const headers = securityHeaders(web.tcp.replace(/\/$/, ''))
  const bareUrl = web.page
  /**
   * A tab whose page is the daemon's own index.html (its headers, CSP and address space the daemon's), with its
   * two subresources, /app.js and /app.css, answered by the bench instead: the bare script and an empty stylesheet.
   * Through CDP's Fetch domain for those two URLs only (playwright's page.route would pause every request of the
   * tab, the navigation included, and turn the tab's cache off: a cost the product's page does not pay).
   */
  const barePage = async (): Promise<{ page: Page; cdp: CDPSession }> => {
    const page = await browser.newPage()
    const cdp = await page.context().newCDPSession(page)
    const responseHeaders = (type: string): Array<{ name: string; value: string }> =>
      Object.entries({ ...headers, 'content-type': type }).map(([name, value]) => ({ name, value }))
    cdp.on('Fetch.requestPaused', (event) => {
      const script = event.request.url.endsWith('.js')
      void cdp.send('Fetch.fulfillRequest', {
        requestId: event.requestId,
        responseCode: 200,
        responseHeaders: responseHeaders(script ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8'),
        body: Buffer.from(script ? bareScript : '').toString('base64'),
      }).catch(() => undefined)
    })
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${web.page}app.js`, requestStage: 'Request' }, { urlPattern: `${web.page}app.css`, requestStage: 'Request' }] })
    return { page, cdp }
  }
  const ticketOf = (link: string): string => /#ticket=([0-9a-f]+)/i.exec(link)?.[1] ?? ''

  const infos = `os/guest/processes/by-pid/*/info`
  const n = fixture.truth.processes.length
  // Raw, as before 1.5: list the pids, then each info leaf (open, read, close), all pipelined.
  const rawPerLeaf = async (): Promise<number> => {
    const started = performance.now()
    const pids = (await client.list('os/guest/processes/by-pid')).map((e) => e.name)
    await Promise.all(pids.map(async (p) => {
      const opened = await client.open(`os/guest/processes/by-pid/${p}/info`)
      await client.read(opened.handle, [{ addr: 0n, length: Number(opened.sizeBytes ?? 65536n) }])
      await client.close(opened.handle)
    }))
    return performance.now() - started
  }
  // Raw: the same data in one get (what the page asks).
  const rawGet = async (): Promise<number> => {
    const started = performance.now()
    const results = await client.get([infos])
    if (results.length !== n) throw new Error(`get gave ${results.length} infos, the guest has ${n} processes`)
    return performance.now() - started
  }
  // Raw from nothing, as the page starts: a new connection (WebSocket, hello with the token), then the get.
  const rawFresh = async (): Promise<number> => {
    const started = performance.now()
    const fresh = await connectClient(web.tcp, { name: 'bench-fresh', token })
    await fresh.get([infos])
    const ms = performance.now() - started
    await fresh.disconnect()
    return ms
  }
  interface Load { driverMs: number; scriptMs: number; helloMs: number; domMs: number; paintMs: number }
  // Page: load to a shown table (a fresh page and ticket each time; the ticket is fetched before the clock starts).
  const pageTable = async (): Promise<Load> => {
    const link = await web.link('os/guest/processes')
    const page = await browser.newPage()
    const cdp = await page.context().newCDPSession(page)
    const started = performance.now()
    await page.goto(link)
    const table = await shown(cdp, '.process-table', 'paintMs')
    const driverMs = performance.now() - started
    const html = await shown(cdp, 'html', 'helloMs')
    if (table['rows'] !== String(n)) throw new Error(`the table shows ${table['rows']} rows, the guest has ${n} processes`)
    const load = { driverMs, scriptMs: Number(html['scriptMs']), helloMs: Number(html['helloMs']), domMs: Number(table['domMs']), paintMs: Number(table['paintMs']) }
    await cdp.detach()
    await page.close()
    return load
  }
  interface BareLoad { scriptMs: number; openMs: number; helloMs: number; doneMs: number }
  // Bare page: the same load with no UI (a fresh tab and ticket each time, like the page).
  const bareTable = async (): Promise<BareLoad> => {
    const ticket = ticketOf(await web.link('os/guest/processes'))
    const { page, cdp } = await barePage()
    await page.goto(`${bareUrl}#ticket=${ticket}&get=${encodeURIComponent(infos)}`)
    const html = await shown(cdp, 'html', 'doneMs')
    if (html['leaves'] !== String(n)) throw new Error(`the bare page got ${html['leaves']} info leaves, the guest has ${n} processes`)
    const load = { scriptMs: Number(html['scriptMs']), openMs: Number(html['openMs']), helloMs: Number(html['helloMs']), doneMs: Number(html['doneMs']) }
    await cdp.detach()
    await page.close()
    return load
  }
  // The machine is shared: the raw, bare and page runs alternate, so all see the same load.
  await rawPerLeaf()
  await rawGet()
  await rawFresh()
  await bareTable()
  await pageTable() // the first loads warm the daemon's caches and Chromium
  const raw = { perLeaf: [] as number[], get: [] as number[], fresh: [] as number[] }
  const loads: Load[] = []
  const bareLoads: BareLoad[] = []
  for (let i = 0; i < LOADS; i++) {
    raw.perLeaf.push(await rawPerLeaf())
    raw.get.push(await rawGet())
    raw.fresh.push(await rawFresh())
    bareLoads.push(await bareTable())
    loads.push(await pageTable())
  }
  const of = (pick: (l: Load) => number): number => median(loads.map(pick))
  const bareOf = (pick: (l: BareLoad) => number): number => median(bareLoads.map(pick))

  // One screen of a new region. Each region is a page of the program's text none has read before (new to the
  // daemon's caches too): page k = 3i for the page's screen, 3i + 1 for the Node client, 3i + 2 for the bare page.
  const mem = await client.open(memPath)
  const { page: bare, cdp: bareCdp } = await barePage()
  await bare.goto(`${bareUrl}#ticket=${ticketOf(await web.link())}&get=${encodeURIComponent(infos)}`)
  await shown(bareCdp, 'html', 'doneMs')
  const bareRead = async (addr: bigint): Promise<{ ms: number; paintMs: number }> => {
    const got = await evaluate<{ ms: number; paintMs: number; bytes: number }>(bareCdp, `bare.read(${JSON.stringify(memPath)}, '${addr.toString(16)}', ${PAGE})`)
    if (got.bytes !== PAGE) throw new Error(`the bare page read ${got.bytes} bytes at 0x${addr.toString(16)}, not ${PAGE}`)
    return got
  }
  const nodeRead = async (addr: bigint): Promise<number> => {
    const started = performance.now()
    const [got] = await client.read(mem.handle, [{ addr, length: PAGE }])
    const ms = performance.now() - started
    if (got === undefined || !('data' in got) || got.data.length !== PAGE) throw new Error(`the Node client's read at 0x${addr.toString(16)} failed`)
    return ms
  }
  await bareRead(textPage(3 * REGIONS + 2)) // its open, and a first read
  const page = await browser.newPage()
  await page.goto(await web.link(memPath))
  const hexCdp = await page.context().newCDPSession(page)
  await shown(hexCdp, '.hex-grid', 'complete', 'true')
  const goTo = async (addr: bigint): Promise<{ filled: Record<string, string>; driverMs: number }> => {
    await page.keyboard.press('Control+g')
    await page.keyboard.type(`0x${addr.toString(16)}`)
    const started = performance.now()
    await page.keyboard.press('Enter')
    const filled = await shown(hexCdp, '.hex-view', 'fillTop', addr.toString(16))
    const driverMs = performance.now() - started
    const grid = await shown(hexCdp, '.hex-grid', 'complete', 'true')
    if (grid['unmapped'] !== '0') throw new Error(`the screen at 0x${addr.toString(16)} shows ${grid['unmapped']} unmapped bytes: not a resident page`)
    return { filled, driverMs }
  }
  // What a screen of a new region reads, on the wire (once, untimed): the ceilings read the same.
  const frames: Array<{ sent: boolean; bytes: Buffer }> = []
  await hexCdp.send('Network.enable')
  hexCdp.on('Network.webSocketFrameSent', (e) => frames.push({ sent: true, bytes: Buffer.from(e.response.payloadData, 'base64') }))
  hexCdp.on('Network.webSocketFrameReceived', (e) => frames.push({ sent: false, bytes: Buffer.from(e.response.payloadData, 'base64') }))
  await goTo(textPage(3 * REGIONS + 3))
  await hexCdp.send('Network.disable')
  const requests = frames.filter((f) => f.sent).map((f) => decodeMessage(f.bytes) as { op?: string; pieces?: Array<{ length: number }> })
  const reads = requests.filter((r) => r.op === 'read')
  const readBytes = reads.flatMap((r) => r.pieces ?? []).reduce((sum, p) => sum + p.length, 0)
  const screenReads = `${requests.length} request(s) sent: ${reads.length} read of ${reads.flatMap((r) => r.pieces ?? []).length} piece(s), ${readBytes} bytes; ${frames.filter((f) => !f.sent).length} frame(s) received`
  if (reads.length !== 1 || readBytes !== PAGE) throw new Error(`a screen was expected to read one ${PAGE}-byte page: ${screenReads}`)

  const rawScreenMs: number[] = []
  const bareScreenMs: number[] = []
  const barePaintMs: number[] = []
  const fills: Array<{ driverMs: number; sentMs: number; readMs: number; domMs: number; paintMs: number }> = []
  for (let i = 0; i < REGIONS; i++) {
    rawScreenMs.push(await nodeRead(textPage(3 * i + 1)))
    await bare.bringToFront() // a tab behind another gets no animation frames: each measures in front
    const bareShown = await bareRead(textPage(3 * i + 2))
    await page.bringToFront()
    bareScreenMs.push(bareShown.ms)
    barePaintMs.push(bareShown.paintMs)
    const addr = textPage(3 * i)
    const { filled, driverMs } = await goTo(addr)
    fills.push({ driverMs, sentMs: Number(filled['fillSentMs']), readMs: Number(filled['fillReadMs']), domMs: Number(filled['fillDomMs']), paintMs: Number(filled['fillPaintMs']) })
  }
  await page.close()
  await bare.close()
  await client.close(mem.handle)
  await client.disconnect()
  const loadAfter = loadavg()[0] ?? 0

  const get50 = median(raw.get)
  const perLeaf50 = median(raw.perLeaf)
  const fresh50 = median(raw.fresh)
  const screen50 = median(rawScreenMs)
  const bareScreen50 = median(bareScreenMs)
  const fill = (pick: (f: typeof fills[number]) => number): number => median(fills.map(pick))
  const bareLoadCeiling = { what: `bare page, same browser: navigation → one get of ${n} info leaves answered`, value: bareOf((l) => l.doneMs) }
  const getCeiling = { what: `raw protocol from Node: one get of ${n} info leaves`, value: get50 }
  const bareGetCeiling = { what: 'bare page, same browser: hello done → get answered', value: bareOf((l) => l.doneMs - l.helloMs) }
  const bareReadCeiling = { what: `bare page, same browser: read of its ${PAGE / 1024} KiB page`, value: bareScreen50 }
  const readCeiling = { what: `raw protocol from Node: read of its ${PAGE / 1024} KiB page`, value: screen50 }
  const barePaintCeiling = { what: 'bare page, same browser: the same read, its 32 rows painted as one <pre> of hex text', value: median(barePaintMs) }
  emit({
    bench: 'web',
    description: 'web page (headless Chromium) vs the raw protocol (a bare page in the same browser, and the Node client), same daemon and data, same run (medians)',
    rows: [
      row('page load → process table painted (from navigation start)', of((l) => l.paintMs), 'ms', bareLoadCeiling, '≤ 2× (goal)'),
      row('  page load → process table painted', of((l) => l.paintMs), 'ms', getCeiling, '≤ 2× (goal)'),
      row('  page load → table in the DOM, layout done', of((l) => l.domMs), 'ms', bareLoadCeiling),
      row('  of which: navigation → the page\'s script runs (Chromium: renderer, fetch, parse)', of((l) => l.scriptMs), 'ms', { what: 'bare page: navigation → its script runs', value: bareOf((l) => l.scriptMs) }),
      row('  of which: script → connected, ticket traded (hello done)', of((l) => l.helloMs - l.scriptMs), 'ms', { what: 'bare page: script → hello done', value: bareOf((l) => l.helloMs - l.scriptMs) }),
      row('  of which: hello done → table in the DOM (the page\'s requests and render)', of((l) => l.domMs - l.helloMs), 'ms', bareGetCeiling),
      row('  script runs → table in the DOM (what the page itself does, from nothing)', of((l) => l.domMs - l.scriptMs), 'ms', { what: 'bare page: script → get answered', value: bareOf((l) => l.doneMs - l.scriptMs) }),
      row('  script runs → table in the DOM, against Node from nothing', of((l) => l.domMs - l.scriptMs), 'ms', { what: 'raw protocol from Node: connect, hello, get', value: fresh50 }),
      row('  page load → table painted, against the pre-1.5 raw reads', of((l) => l.paintMs), 'ms', { what: `raw protocol from Node: list + ${n} info leaves (open, read, close)`, value: perLeaf50 }),
      row('  as the driver sees it (playwright goto → table painted)', of((l) => l.driverMs), 'ms'),
      row('hex view: screen of a new region painted (from the go-to\'s Enter)', fill((f) => f.paintMs), 'ms', bareReadCeiling, '≤ 2× (goal)'),
      row('  screen of a new region painted', fill((f) => f.paintMs), 'ms', readCeiling, '≤ 2× (goal)'),
      row('  screen of a new region painted, against the plainest display of the same read', fill((f) => f.paintMs), 'ms', barePaintCeiling),
      row('  from Enter to its bytes in the DOM, layout done', fill((f) => f.domMs), 'ms', bareReadCeiling),
      row('  from Enter to its read answered', fill((f) => f.readMs), 'ms', bareReadCeiling),
      row('  of which: the read, as the page sees it (sent → answered)', fill((f) => f.readMs - f.sentMs), 'ms', bareReadCeiling),
      row('  the bare page\'s read, against the Node client\'s', bareScreen50, 'ms', readCeiling),
      row('  as the driver sees it (Enter pressed → screen painted)', fill((f) => f.driverMs), 'ms'),
    ],
    notes: [
      'Spans (in-page clocks): page load starts at navigation start; "in the DOM" ends when the rows are in the DOM and layout is done (forced then); "painted" when the frame showing them has been rendered (a task posted from its animation frame callback). A hex screen starts at the go-to\'s submit event (Enter) and ends likewise.',
      `The bare page (bench/web-bare/, bench-only) is the raw protocol in the same browser: the daemon's own index.html, served by the daemon, whose /app.js and /app.css the bench answers in that tab (CDP Fetch, those two URLs only) with the bare script and an empty stylesheet, under the daemon's security headers, it opens the WebSocket, trades a ticket at hello and sends the same get, with the page's msgpack codec and no UI. Its spans, from navigation start: script runs ${bareOf((l) => l.scriptMs).toFixed(1)} ms, WebSocket open ${bareOf((l) => l.openMs).toFixed(1)}, hello done ${bareOf((l) => l.helloMs).toFixed(1)}, get answered ${bareOf((l) => l.doneMs).toFixed(1)} ms.`,
      `Raw figures from Node, same run: one get ${get50.toFixed(1)} ms; list + ${n} × (open, read, close) pipelined ${perLeaf50.toFixed(1)} ms; a fresh connection (connect, hello) + get ${fresh50.toFixed(1)} ms.`,
      `The hex screens are ${REGIONS} new 4 KiB pages of a guest process's program text (resident; each read once, none before; every screen checked to show no unmapped byte). A screen (32 rows of 16 bytes) reads exactly one page; seen on the wire for one go-to: ${screenReads}. The bare page and the Node client each read other new pages of the same mapping, one ${PAGE}-byte piece per request; the bare page then shows the read's first 32 rows as one <pre> of hex text and waits for its frame, as the page's spans do (the plainest display a browser allows: what any hex view must pay at least). Node, bare page and page alternate, so all see the same load on the shared machine.`,
      'Where the page\'s time goes (Chromium traces through CDP Tracing and CPU profiles of the renderer through CDP Profiler, on this machine at load 5–10; docs/web.md has more). Page load: before any script runs Chromium commits the new tab\'s navigation (one ~100 ms task), parses the HTML (~14 ms) and evaluates the bundle; the bare page pays the same (its navigation → script is within the noise of the page\'s). The page then opens its WebSocket first and takes the ticket out of the address bar in the same task (history.replaceState took 5–27 ms before the socket was opened). After hello: the app\'s first render (~20 ms of script) and frame (~19 ms, 13 of it layout), the watch and the get (two round trips in a row; they now go out in the turn hello is answered, not after the first render), the 52 rows\' render (~20 ms of script) and layout (~20 ms, 593 objects), then the paint.',
      'Hex screen: a read in flight while the tab makes a frame is slower. In a bare tab of this browser (a separate run, load 9–10) a 4 KiB read took 3–4 ms idle, ~5 ms sent from a key press, ~12 ms when that key press also changed the DOM: the frame\'s compositing and raster compete with the network service and the daemon for the 2 cores. The page used to render the go-to (~15 ms of script), make a frame and add a history entry (~5 ms) while its read was in flight: 20–25 ms for the read. Now the route waits for the read it asked ahead (150 ms at most), the view is placed in the same turn and the move is rendered once, with its bytes, and the history entry follows the frame. What is left after the read: the render (~8–10 ms: preact\'s diff of the view and the grid\'s own paint of its cells), the layout of ~1250 objects (32 rows × 16 byte cells, each a span with its text: 8–10 ms) and the frame (7–20 ms).',
      `Load average (1 min) at the start ${loadBefore.toFixed(1)}, at the end ${loadAfter.toFixed(1)}, on ${cpus().length} cores.`,
    ],
  })
} finally {
  await browser.close()
  await web.stop()
}
