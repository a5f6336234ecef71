/**
 * The web page against the raw protocol, same daemon, same data, same run:
 *
 *   page load → rendered process table   vs   list by-pid + every info leaf (open, read, close), pipelined
 *   hex view: a screen of a new region    vs   one read of the page(s) that screen covers
 *
 * The browser is Debian's headless Chromium (playwright-core); the raw
 * client is the Node protocol client over the same TCP WebSocket. Times
 * are medians. Goal: the UI adds at most 2× over the protocol.
 */
import { cpus, loadavg } from 'node:os'
import { connectClient } from '../src/net/index.js'
import { linuxFixtures } from '../test/linux-kit.js'
import { haveChromium, launchBrowser } from '../test/web-browser.js'
import { startWebDaemon } from '../test/web-kit.js'
import { emit, row } from './bench-report.js'

const LOADS = 5
const REGIONS = 16

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const fixture = linuxFixtures()[0]
if (fixture === undefined || !haveChromium()) {
  emit({ bench: 'web', description: 'web page vs raw protocol', rows: [], notes: ['skipped: no guest fixture or no Chromium'] })
  process.exit(0)
}
const loadBefore = loadavg()[0] ?? 0
const web = await startWebDaemon([`connector dump file:${fixture.dump}`, 'os guest -c dump linux'])
const browser = await launchBrowser()
try {
  const client = await connectClient(web.tcp, { name: 'bench', token: await web.token() })
  const pid = fixture.truth.patterns.find((p) => p.kind === 'heap')?.pid ?? 1
  const heap = BigInt(fixture.truth.patterns.find((p) => p.kind === 'heap')?.address ?? '0') & ~0xfffn

  // Raw: the data behind the process table.
  const rawTable = async (): Promise<number> => {
    const started = performance.now()
    const pids = (await client.list('os/guest/processes/by-pid')).map((e) => e.name)
    await Promise.all(pids.map(async (p) => {
      const opened = await client.open(`os/guest/processes/by-pid/${p}/info`)
      await client.read(opened.handle, [{ addr: 0n, length: Number(opened.sizeBytes ?? 65536n) }])
      await client.close(opened.handle)
    }))
    return performance.now() - started
  }
  // Page: load to a rendered table (a fresh page and ticket each time; the ticket is fetched before the clock starts).
  const pageTable = async (): Promise<{ driverMs: number; tableMs: number; helloMs: number }> => {
    const link = await web.link('os/guest/processes')
    const page = await browser.newPage()
    const started = performance.now()
    await page.goto(link)
    await page.locator(`.process-table tbody tr >> nth=${fixture.truth.processes.length - 1}`).waitFor({ timeout: 60_000 })
    const driverMs = performance.now() - started
    const tableMs = Number(await page.getAttribute('.process-table', 'data-rendered-ms'))
    const helloMs = Number(await page.getAttribute('html', 'data-hello-ms'))
    await page.close()
    return { driverMs, tableMs, helloMs }
  }
  // The machine is shared: raw and page runs alternate, so both see the same load.
  await rawTable()
  await pageTable() // the first load warms the daemon's caches and Chromium
  const rawTableMs: number[] = []
  const pageTableMs: number[] = []
  const inPageTableMs: number[] = []
  const helloMs: number[] = []
  const afterHelloMs: number[] = []
  for (let i = 0; i < LOADS; i++) {
    rawTableMs.push(await rawTable())
    const loaded = await pageTable()
    pageTableMs.push(loaded.driverMs)
    inPageTableMs.push(loaded.tableMs)
    helloMs.push(loaded.helloMs)
    afterHelloMs.push(loaded.tableMs - loaded.helloMs)
  }

  // One screen of a new region: raw = a read of the page it covers; page = Ctrl+G there until its screen is filled.
  // Each region is a 4 KiB page of the heap neither has read before (new to the daemon's caches too); they alternate.
  const mem = await client.open(`os/guest/processes/by-pid/${pid}/mem`)
  const page = await browser.newPage()
  await page.goto(await web.link(`os/guest/processes/by-pid/${pid}/mem`))
  await page.locator('.hex-grid[data-complete="true"]').waitFor({ timeout: 60_000 })
  const rawScreenMs: number[] = []
  const pageScreenMs: number[] = []
  const inPageScreenMs: number[] = []
  const inPageReadMs: number[] = []
  const inPageDomMs: number[] = []
  for (let i = 0; i < REGIONS; i++) {
    const rawStarted = performance.now()
    await client.read(mem.handle, [{ addr: heap + 0x80000n + BigInt(i) * 4096n, length: 4096 }])
    rawScreenMs.push(performance.now() - rawStarted)
    const addr = heap + 0x40000n + BigInt(i) * 4096n
    const started = performance.now()
    await page.keyboard.press('Control+g')
    await page.keyboard.type(`0x${addr.toString(16)}`)
    await page.keyboard.press('Enter')
    await page.locator(`.hex-view[data-fill-top="${addr.toString(16)}"]`).waitFor({ timeout: 60_000 })
    pageScreenMs.push(performance.now() - started)
    inPageScreenMs.push(Number(await page.getAttribute('.hex-view', 'data-fill-ms')))
    inPageReadMs.push(Number(await page.getAttribute('.hex-view', 'data-fill-read-ms')))
    inPageDomMs.push(Number(await page.getAttribute('.hex-view', 'data-fill-dom-ms')))
  }
  await page.close()
  await client.close(mem.handle)
  await client.disconnect()
  const loadAfter = loadavg()[0] ?? 0

  const rawTable50 = median(rawTableMs)
  const rawScreen50 = median(rawScreenMs)
  emit({
    bench: 'web',
    description: 'web page (headless Chromium) vs the raw protocol client, same daemon and data, same run (medians)',
    rows: [
      row('page load to rendered process table (in-page clock, from navigation start)', median(inPageTableMs), 'ms', { what: `raw protocol: list + ${fixture.truth.processes.length} info leaves`, value: rawTable50 }, '≤ 2× (goal)'),
      row('  of which: page loaded, connected, ticket traded (hello done)', median(helloMs), 'ms'),
      row('  of which: hello done → table rendered (the reads and the render)', median(afterHelloMs), 'ms', { what: `raw protocol: list + ${fixture.truth.processes.length} info leaves`, value: rawTable50 }),
      row('  as the driver sees it (playwright goto → table found)', median(pageTableMs), 'ms'),
      row('hex view: screen of a new region read and painted (in-page clock)', median(inPageScreenMs), 'ms', { what: 'raw protocol: read of its 4 KiB page', value: rawScreen50 }, '≤ 2× (goal)'),
      row('  of which: its read answered, as the page sees it', median(inPageReadMs), 'ms', { what: 'raw protocol: read of its 4 KiB page', value: rawScreen50 }),
      row('  of which: its bytes in the DOM (the rest, to the next frame, is Chromium\'s)', median(inPageDomMs), 'ms'),
      row('  as the driver sees it (Ctrl+G, typing, Enter → screen found)', median(pageScreenMs), 'ms'),
    ],
    notes: [
      'The page times include Chromium itself (navigation, bundle parse, layout) and playwright\'s round trips for the key presses and the wait; the raw times are one Node client on the same TCP WebSocket.',
      'The hex screens are 16 new 4 KiB pages of a guest process heap (each one read once by the page, none before); the in-page clock runs from the new address to the first animation frame after the bytes are in the DOM.',
      'Raw and page measurements alternate (one raw, one page), so both see the same load on the shared machine.',
      `Load average (1 min) at the start ${loadBefore.toFixed(1)}, at the end ${loadAfter.toFixed(1)}, on ${cpus().length} cores.`,
    ],
  })
} finally {
  await browser.close()
  await web.stop()
}
