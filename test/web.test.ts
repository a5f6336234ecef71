/**
 * The web frontend end to end: `memweave serve --web` on a real Linux guest
 * dump, `memweave web` links, and headless Chromium (Debian's, through
 * playwright-core) using the page as a person would. Checked against the
 * fixture's truth.json: the process table lists the guest's processes; a
 * deep link to a test program's heap shows its pattern; an unmapped page
 * shows `??`; go-to `module+0xOFF` lands there; a scan finds the pattern
 * with progress and can be cancelled; the ticket leaves the address bar and
 * works once; a page from another origin cannot connect; a process's core
 * downloads streamed to disk (an ELF core of the daemon's size), and a read
 * token limited to some paths downloads nothing outside them.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { WebSocket } from 'ws'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'
import { haveChromium, launchBrowser, NO_CHROMIUM_REASON } from './web-browser.js'
import type { Browser } from './web-browser.js'
import { runCli } from './cli-kit.js'
import { ERROR_KINDS } from '../src/errors/index.js'
import { connectClient } from '../src/net/index.js'
import { RawPeer } from './protocol-kit.js'
import { screenshot, startWebDaemon } from './web-kit.js'
import type { WebDaemon } from './web-kit.js'

const FIXTURE = linuxFixtures()[0]
const skip = FIXTURE === undefined ? NO_FIXTURES_REASON : !haveChromium() ? NO_CHROMIUM_REASON : false

describe('web frontend on a guest dump', { skip }, () => {
  let web: WebDaemon
  let browser: Browser
  const truth = FIXTURE?.truth
  const pattern = truth?.patterns.find((p) => p.kind === 'heap')
  const pid = pattern?.pid ?? 0
  const mapsLines = (truth?.maps[String(pid)] ?? '').split('\n').filter((l) => l !== '')

  before(async () => {
    web = await startWebDaemon([`connector dump file:${FIXTURE?.dump ?? ''}`, 'os guest -c dump linux'])
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await web?.stop()
  })

  async function open(view: string): Promise<Page> {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    await page.goto(await web.link(view))
    await page.waitForSelector('.main', { timeout: 30_000 })
    assert.deepEqual(errors, [])
    return page
  }

  test('the page is served with strict headers, and only to its own Host', async () => {
    const response = await fetch(web.page)
    assert.equal(response.status, 200)
    const csp = response.headers.get('content-security-policy') ?? ''
    assert.match(csp, /default-src 'none'/)
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.ok(csp.includes(`connect-src ${web.tcp}`), csp)
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer')
    assert.equal((await fetch(new URL('/nothing-here', web.page))).status, 404)
    // The page itself is never stored; the bundle is revalidated on each load (an unchanged one is a 304).
    assert.equal(response.headers.get('cache-control'), 'no-store')
    const bundle = await fetch(new URL('/app.js', web.page))
    const etag = bundle.headers.get('etag') ?? ''
    assert.equal(bundle.headers.get('cache-control'), 'no-cache')
    assert.match(etag, /^"[\w-]{22}"$/)
    assert.match(bundle.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    const again = await fetch(new URL('/app.js', web.page), { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
    assert.equal((await fetch(new URL('/app.js', web.page), { headers: { 'if-none-match': '"other"' } })).status, 200)
    // A DNS-rebinding name pointing at 127.0.0.1 is not this daemon.
    const rebound = await new Promise<number>((resolve, reject) => {
      const url = new URL(web.page)
      import('node:http').then(({ request }) => {
        request({ host: url.hostname, port: url.port, path: '/', headers: { host: `evil.example:${url.port}` } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
      }, reject)
    })
    assert.equal(rebound, 421)
  })

  test('the process table shows the guest\'s processes', async () => {
    const page = await open('os/guest/processes')
    await page.waitForSelector('.process-table tbody tr')
    assert.ok(!page.url().includes('ticket'), `the ticket left the address bar: ${page.url()}`)
    const pids = await page.$$eval('.process-table tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-pid'))))
    assert.deepEqual(pids.sort((a, b) => a - b), (truth?.processes ?? []).map((p) => p.pid).sort((a, b) => a - b))
    const text = await page.textContent('.process-table') ?? ''
    for (const process of truth?.processes.filter((p) => !p.kernelThread) ?? []) {
      assert.ok(text.includes(process.name), `process ${process.name} listed`)
      assert.ok(text.includes(process.cmdline.join(' ')), `command line of ${process.pid} shown`)
    }
    await screenshot(page, 'process-table')
    await page.fill('.filter', 'mw-pattern')
    const filtered = await page.$$eval('.process-table tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-pid'))))
    assert.ok(filtered.includes(pid) && filtered.length < pids.length, 'the filter narrows the table')
    await page.close()
  })

  test('the memory map joins maps with phys_maps, finds the mapping that holds an address, and opens it', async () => {
    assert.ok(pattern !== undefined)
    const page = await open(`os/guest/processes/by-pid/${pid}`)
    await page.waitForSelector('table.maps tbody tr')
    const starts = await page.$$eval('table.maps tbody tr td:first-child', (cells) => cells.map((c) => c.textContent ?? ''))
    assert.deepEqual(starts.map((s) => BigInt(s)), mapsLines.map((l) => BigInt(`0x${l.split('-')[0] ?? ''}`)))
    const resident = await page.$$eval('table.maps tbody tr td:nth-child(5)', (cells) => cells.map((c) => c.textContent ?? ''))
    assert.ok(resident.some((r) => r !== '0 B'), 'phys_maps joined: some mappings have resident pages')
    await page.fill('.toolbar .filter', pattern.address)
    assert.match(await page.textContent('table.maps tr.hit') ?? '', /\[heap\]/)
    await screenshot(page, 'memory-map')
    await page.click('table.maps tr.hit td:first-child a')
    await page.locator('.hex-grid .row').first().waitFor()
    assert.ok(page.url().includes('/mem@'), page.url())
    await page.close()
  })

  test('a deep link to a test program\'s heap shows its pattern', async () => {
    assert.ok(pattern !== undefined)
    const page = await open(`os/guest/processes/by-pid/${pid}/mem@${pattern.address}`)
    const first = Buffer.from(pattern.bytes, 'hex').subarray(0, 16).toString('latin1')
    // Locators, not string predicates: the page's CSP forbids eval, for tests too.
    await page.locator('.hex-grid', { hasText: first }).waitFor({ timeout: 30_000 })
    const firstRow = await page.textContent('.hex-grid .row:first-child .addr')
    assert.equal(BigInt(`0x${firstRow ?? ''}`), BigInt(pattern.address) & ~0xfn)
    const bytes = await page.$$eval('.hex-grid .row:first-child .b', (cells) => cells.map((c) => c.textContent).join(''))
    assert.equal(bytes.slice(2 * Number(BigInt(pattern.address) & 0xfn)), pattern.bytes.slice(0, 32 - 2 * Number(BigInt(pattern.address) & 0xfn)))
    assert.match(await page.textContent('.inspector') ?? '', /MEMWEAVE-PATTERN/)
    await screenshot(page, 'hex-view-heap')
    await page.close()
  })

  test('the hex view: ASCII runs, cursor and selection marks, clicks and keyboard navigation', async () => {
    assert.ok(pattern !== undefined)
    const page = await open(`os/guest/processes/by-pid/${pid}/mem@${pattern.address}`)
    const bytes = Buffer.from(pattern.bytes, 'hex')
    await page.locator('.hex-grid', { hasText: bytes.subarray(0, 8).toString('latin1') }).waitFor({ timeout: 30_000 })
    const k = Number(BigInt(pattern.address) & 0xfn)
    const printable = (b: Buffer): string => [...b].map((c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.')).join('')
    // The first row's ASCII column: the pattern's characters from the cursor's column on; the cursor marks its first one.
    const ascii = await page.textContent('.hex-grid .row:first-child .ascii') ?? ''
    assert.equal(ascii.length, 16)
    assert.equal(ascii.slice(k), printable(bytes.subarray(0, 16 - k)))
    assert.equal(await page.textContent('.hex-grid .row:first-child .ascii .cur'), printable(bytes.subarray(0, 1)))
    /** Where the cursor is: [row, column], from the hex cells' classes (exactly one cell is marked). */
    const cursorAt = async (): Promise<[number, number]> => {
      const marked = await page.$$eval('.hex-grid .row', (rows) => rows.flatMap((row, r) => [...row.querySelectorAll('.b')].flatMap((cell, c) => (cell.classList.contains('cur') ? [[r, c]] : []))))
      assert.equal(marked.length, 1, `one cursor cell, got ${JSON.stringify(marked)}`)
      return marked[0] as [number, number]
    }
    assert.deepEqual(await cursorAt(), [0, k])
    // A click on a byte moves the cursor there; arrows move it; Shift+arrows select, in both columns.
    await page.click('.hex-grid .row:nth-child(2) .b:nth-child(3)')
    assert.deepEqual(await cursorAt(), [1, 2])
    await page.keyboard.press('ArrowRight')
    await page.keyboard.press('ArrowDown')
    assert.deepEqual(await cursorAt(), [2, 3])
    await page.keyboard.press('Shift+ArrowRight')
    await page.keyboard.press('Shift+ArrowRight')
    assert.equal(await page.$$eval('.hex-grid .row:nth-child(3) .b.sel', (cells) => cells.length), 3)
    assert.equal((await page.textContent('.hex-grid .row:nth-child(3) .ascii .sel'))?.length, 3)
    // A click in the ASCII column picks that character's byte.
    const column = await page.locator('.hex-grid .row:first-child .ascii').boundingBox()
    assert.ok(column !== null)
    await page.mouse.click(column.x + (5.5 / 16) * column.width, column.y + column.height / 2)
    assert.deepEqual(await cursorAt(), [0, 5])
    // PageDown moves the screen and the cursor by a screen (32 rows of 16 bytes).
    const top = BigInt(`0x${await page.textContent('.hex-grid .row:first-child .addr') ?? ''}`)
    await page.keyboard.press('PageDown')
    await page.locator('.hex-grid .row:first-child .addr', { hasText: (top + 0x200n).toString(16).padStart(12, '0') }).waitFor()
    assert.deepEqual(await cursorAt(), [0, 5])
    await page.close()
  })

  test('a bookmark with a note is kept and listed; a range downloads as a file with the exact bytes', async () => {
    assert.ok(pattern !== undefined)
    const page = await open(`os/guest/processes/by-pid/${pid}/mem@${pattern.address}`)
    await page.locator('.hex-grid', { hasText: 'MEMWEAVE' }).waitFor({ timeout: 30_000 })
    page.once('dialog', (dialog) => { void dialog.accept('the heap pattern') })
    await page.click('button:text-is("Bookmark")')
    await page.locator('.note', { hasText: 'bookmarked' }).waitFor()
    page.once('dialog', (dialog) => { void dialog.accept('64') })
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('text=Download…')])
    const saved = await file.path()
    assert.equal((await readFile(saved)).toString('hex'), pattern.bytes.slice(0, 128))
    await page.goto(`${web.page}#/~bookmarks`) // same document: the hash changes, the session stays
    await page.locator('.bookmarks td', { hasText: 'the heap pattern' }).waitFor()
    assert.match(await page.textContent('.bookmarks') ?? '', new RegExp(`mem@${pattern.address}`))
    await page.close()
  })

  /** Checks a downloaded core: ELF, 64-bit, ET_CORE, and exactly the size the daemon gives the process's core leaf. */
  async function checkCore(saved: string, processPid: number): Promise<void> {
    const bytes = await readFile(saved)
    assert.equal(bytes.subarray(0, 4).toString('latin1'), '\x7fELF')
    assert.equal(bytes[4], 2, 'ELFCLASS64')
    assert.equal(bytes.readUInt16LE(16), 4, 'ET_CORE')
    const client = await connectClient(web.unix, { name: 'web-test' })
    try {
      const opened = await client.open(`os/guest/processes/by-pid/${processPid}/core`)
      assert.equal(BigInt(bytes.length), opened.sizeBytes)
      await client.close(opened.handle)
    } finally {
      await client.disconnect()
    }
  }

  test('a process core downloads streamed to disk: an ELF core file of the size the daemon gives', async () => {
    const page = await open(`os/guest/processes/by-pid/${pid}`)
    const button = page.locator('button[data-download="core"]')
    await button.waitFor({ timeout: 30_000 })
    const [file] = await Promise.all([page.waitForEvent('download'), button.click()])
    const saved = await file.path()
    assert.equal(await file.failure(), null)
    assert.match(file.suggestedFilename(), new RegExp(`by-pid_${pid}_core$`))
    await checkCore(saved, pid)
    await page.close()
  })

  test('a read token limited to one process downloads its core and nothing outside its paths; a download ticket works once', async () => {
    const added = await runCli(['token', 'add', 'web-narrow', '--role', 'read', '--paths', `os/guest/processes/by-pid/${pid}/**`], { env: web.env })
    assert.equal(added.code, 0, added.stderr)
    const token = added.stdout.trim()
    // The protocol: a download ticket only for what the token sees.
    const raw = await RawPeer.connect(web.tcp)
    assert.ok('result' in await raw.hello(token))
    raw.send({ id: 1, op: 'download', path: 'os/guest/processes/by-pid/1/core' })
    raw.send({ id: 2, op: 'download', path: 'os/guest/kmem', offset: 0, length: 4096 })
    raw.send({ id: 3, op: 'download', path: `os/guest/processes/by-pid/${pid}/core` })
    for (const id of [1, 2]) assert.equal(((await raw.reply(id))['error'] as { code: number }).code % 1000, ERROR_KINDS.not_found)
    const grant = (await raw.reply(3))['result'] as { ticket: string; action: string }
    raw.ws.close()
    const post = (origin: string): Promise<Response> => fetch(new URL(grant.action, web.page), {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin }, body: `ticket=${grant.ticket}`,
    })
    assert.equal((await post('http://evil.example')).status, 403, 'a form from another origin is refused before the ticket is looked at')
    const first = await post(new URL(web.page).origin)
    assert.equal(first.status, 200)
    assert.equal(Buffer.from(await first.arrayBuffer()).subarray(0, 4).toString('latin1'), '\x7fELF')
    const again = await post(new URL(web.page).origin)
    assert.equal(again.status, 204)
    assert.match(again.headers.get('x-memweave-refusal') ?? '', /not valid/)
    // The page of such a token: the process's core downloads; another process does not exist for it.
    const link = await runCli(['--daemon', web.tcp, '--token', token, 'web', '--no-open', `os/guest/processes/by-pid/${pid}`], { env: web.env })
    assert.equal(link.code, 0, link.stderr)
    const page = await browser.newPage()
    await page.goto(link.stdout.trim())
    const button = page.locator('button[data-download="core"]')
    await button.waitFor({ timeout: 30_000 })
    const [file] = await Promise.all([page.waitForEvent('download'), button.click()])
    await checkCore(await file.path(), pid)
    await page.goto(`${web.page}#/os/guest/processes/by-pid/1`)
    await page.locator('.main .error', { hasText: 'no such path' }).first().waitFor({ timeout: 30_000 })
    assert.equal(await page.locator('button[data-download]').count(), 0)
    await page.close()
  })

  test('an unmapped page shows ?? (never zeros)', async () => {
    // The first gap between two mappings of the test program.
    const ranges = mapsLines.map((l) => l.split(' ')[0]?.split('-').map((h) => BigInt(`0x${h}`)) ?? [])
    const gap = ranges.findIndex((r, i) => (ranges[i + 1]?.[0] ?? 0n) > (r[1] ?? 0n))
    const unmapped = ranges[gap]?.[1] ?? 0n
    const page = await open(`os/guest/processes/by-pid/${pid}/mem@0x${unmapped.toString(16)}`)
    await page.locator('.hex-grid .row:first-child .b.un:nth-child(16)').waitFor({ timeout: 30_000 })
    const cells = await page.$$eval('.hex-grid .row:first-child .b', (c) => c.map((e) => e.textContent))
    assert.deepEqual(cells, Array.from({ length: 16 }, () => '??'))
    await page.close()
  })

  test('go-to module+0xOFF lands at the module base plus the offset', async () => {
    const page = await open(`os/guest/processes/by-pid/${pid}/mem`)
    await page.waitForSelector('.hex-grid .row')
    const program = mapsLines[0] ?? ''
    const base = BigInt(`0x${program.split('-')[0] ?? '0'}`)
    const name = program.slice(program.lastIndexOf('/') + 1)
    await page.keyboard.press('Control+g')
    await page.keyboard.type(`${name}+0x1010`)
    await page.keyboard.press('Enter')
    const want = (base + 0x1010n).toString(16).padStart(12, '0')
    await page.locator('.hex-grid .row:first-child .addr', { hasText: want }).waitFor()
    assert.equal(await page.textContent('.where'), `${name}+0x1010`)
    // The address bar follows the painted view (route.ts: just after its frame).
    await page.waitForURL((url) => url.href.endsWith(`@${encodeURIComponent(`${name}+0x1010`)}`))
    await page.close()
  })

  test('a scan of the process finds the pattern, with progress, and a hit jumps there', async () => {
    assert.ok(pattern !== undefined)
    const page = await open(`os/guest/processes/by-pid/${pid}/mem`)
    await page.waitForSelector('.hex-grid .row')
    await page.click('text=Scan')
    // "MEMWEAVE-PATTERN-alpha-": every pattern this program placed (data, heap, mmap, stack).
    await page.fill('.scan-input', `${Buffer.from(pattern.bytes, 'hex').toString('latin1').split('-').slice(0, 3).join('-')}-`)
    await page.click('.scan-panel button[type=submit]')
    await page.waitForSelector('.scan-summary', { timeout: 60_000 })
    assert.ok(Number(await page.getAttribute('.scan-summary', 'data-updates')) >= 1, 'progress events arrived')
    const hits = await page.$$eval('.scan-results a.hit', (links) => links.map((a) => a.textContent ?? ''))
    const want = (truth?.patterns ?? []).filter((p) => p.pid === pid).map((p) => BigInt(p.address))
    for (const address of want) assert.ok(hits.some((h) => BigInt(h) === address), `hit at 0x${address.toString(16)} (hits: ${hits.join(' ')})`)
    await page.click(`.scan-results a.hit:text-is("${pattern.address}")`)
    await page.locator('.hex-grid .row:first-child .addr', { hasText: (BigInt(pattern.address) & ~0xfn).toString(16).padStart(12, '0') }).waitFor()
    await screenshot(page, 'scan')
    await page.close()
  })

  test('a scan of all physical memory shows progress and can be cancelled', async () => {
    const page = await open('connector/dump/mem')
    await page.waitForSelector('.hex-grid .row')
    await page.click('text=Scan')
    await page.fill('.scan-input', 'no such text anywhere in memory, surely')
    await page.click('.scan-panel button[type=submit]')
    // Progress from the daemon: wait until some of the memory is done, then cancel.
    await page.locator('.progress:not([data-done="0"])').waitFor({ timeout: 60_000 })
    await page.click('.scan-panel button.cancel')
    await page.waitForSelector('.scan-summary', { timeout: 60_000 })
    assert.equal(await page.getAttribute('.scan-summary', 'data-cancelled'), 'true')
    assert.match(await page.textContent('.scan-summary') ?? '', /Cancelled/)
    await page.close()
  })

  test('a ticket works once', async () => {
    const link = await web.link()
    const first = await browser.newPage()
    await first.goto(link)
    await first.waitForSelector('.conn.open')
    const second = await browser.newPage()
    await second.goto(link)
    await second.waitForSelector('.banner.error')
    assert.match(await second.textContent('.banner.error') ?? '', /ticket is not valid/)
    await first.close()
    await second.close()
  })

  test('a page from another origin cannot connect, even with a valid ticket', async () => {
    const ticket = /#ticket=([0-9a-f]+)/.exec(await web.link())?.[1] ?? ''
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<script>const ws = new WebSocket(${JSON.stringify(`${web.tcp}/`)}); ws.binaryType = 'arraybuffer';
        ws.onopen = () => { document.body.dataset.ws = 'opened' }; ws.onclose = () => { document.body.dataset.ws = document.body.dataset.ws === 'opened' ? 'opened-then-closed' : 'refused' }</script>`)
    })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    const address = evil.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.locator('body[data-ws]').waitFor()
    assert.equal(await page.getAttribute('body', 'data-ws'), 'refused')
    await page.close()
    evil.close()
    // The same refusal for any client that presents a foreign Origin (the ticket is not even looked at).
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${web.tcp}/`, { headers: { origin: `http://127.0.0.1:${port}` } })
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => { ws.close(); resolve(101) })
      ws.on('error', () => undefined)
    })
    assert.equal(status, 403)
    assert.ok(ticket.length > 0)
  })

  // Last: it removes the dump from the daemon.
  test('removing the dump turns an open view stale, with the reason and a reopen button', async () => {
    const page = await open(`os/guest/processes/by-pid/${pid}/mem@${pattern?.address ?? '0'}`)
    await page.locator('.hex-grid', { hasText: 'MEMWEAVE' }).waitFor({ timeout: 30_000 })
    const removed = await runCli(['--daemon', web.unix, 'os', 'rm', '-f', 'guest'])
    assert.equal(removed.code, 0, removed.stderr)
    // Pushed by the daemon (a 1.2 stale event): the page did not have to read again to find out.
    await page.waitForSelector('.hex-view.stale .stale-banner', { timeout: 30_000 })
    assert.match(await page.textContent('.stale-banner') ?? '', /Stale:.*(removed|closed|gone)/i)
    assert.ok(await page.isVisible('.stale-banner button'), 'a reopen button')
    await screenshot(page, 'stale')
    await page.close()
  })
})
