/**
 * The web page on a live QEMU guest (the fixture guest booted by
 * scripts/fixtures/run-guest.sh, opened with the qemu connector through
 * `memweave serve --web`): in live mode, bytes a guest program's memory
 * gets written light up in the hex view; when the program is killed, its
 * open view turns stale with the reason and offers to reopen. A process
 * started and killed in the guest reaches every client as protocol events
 * (1.4 `appeared`/`gone` on a watch that asks for objects, a plain `change`
 * for a 1.1 client) and the page's process table gains and loses its row
 * without a reload. (One guest for all of it: booting one costs minutes.)
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { RawPeer } from './protocol-kit.js'
import { GuestShell, liveGuestSkipReason, startGuest, stopGuest, until } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'
import { haveChromium, launchBrowser, NO_CHROMIUM_REASON } from './web-browser.js'
import type { Browser } from './web-browser.js'
import { screenshot, startWebDaemon } from './web-kit.js'
import type { WebDaemon } from './web-kit.js'

const skip = liveGuestSkipReason() || (!haveChromium() ? NO_CHROMIUM_REASON : false)

/** Starts `sleep` in the guest's background and gives its pid. */
async function startSleeper(shell: GuestShell): Promise<number> {
  const out = await shell.run('sleep 3000 </dev/null >/dev/null 2>&1 & echo SLEEPER=$!')
  const pid = /SLEEPER=(\d+)/.exec(out)?.[1]
  assert.ok(pid !== undefined, out)
  return Number(pid)
}

/** A raw protocol client on the daemon's unix socket that said hello with this minor version. */
async function rawClient(url: string, minor: number): Promise<RawPeer> {
  const raw = await RawPeer.connect(url)
  raw.send({ id: 0, op: 'hello', version: { major: 1, minor }, client: { name: `raw-1.${minor}` } })
  assert.ok('result' in await raw.reply(0))
  return raw
}

/** The next event matching `wanted`, skipping others (other guest processes come and go too). */
async function eventWhere(raw: RawPeer, wanted: (event: Record<string, unknown>) => boolean, seen: string[] = []): Promise<Record<string, unknown>> {
  for (;;) {
    const message = await raw.next()
    seen.push(String(message['event']))
    if ('event' in message && wanted(message)) return message
  }
}

describe('web page on a live guest', { skip }, () => {
  let guest: GuestRun
  let web: WebDaemon
  let browser: Browser
  let shell: GuestShell

  before(async () => {
    guest = await startGuest()
    shell = await GuestShell.connect(guest.consoleSocket)
    web = await startWebDaemon([`connector vm qemu:name=${guest.name}`, 'os g -c vm linux'])
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await web?.stop()
    shell?.close()
    await stopGuest(guest)
  })

  test('a process started and killed in the guest: appeared/gone for a 1.4 watch with objects, change for a 1.1 client', async () => {
    const newer = await rawClient(web.unix, 4)
    const older = await rawClient(web.unix, 1)
    newer.send({ id: 1, op: 'watch', path: 'os/g/processes', objects: true })
    const watchId = ((await newer.reply(1))['result'] as { watchId: number }).watchId
    older.send({ id: 1, op: 'watch', path: 'os' })
    assert.ok('result' in await older.reply(1))
    const pid = await startSleeper(shell)
    // The shell forks before it runs sleep: a poll in between sees 'sh' first, and the exec is then gone + appeared as 'sleep'.
    const appeared = await eventWhere(newer, (e) => e['event'] === 'appeared' && (e['object'] as { pid?: number }).pid === pid && (e['object'] as { name?: string }).name === 'sleep')
    assert.equal(appeared['watchId'], watchId)
    assert.equal(appeared['path'], `os/g/processes/by-pid/${pid}`)
    assert.equal((appeared['object'] as { name?: string }).name, 'sleep')
    const olderSaw: string[] = []
    const change = await eventWhere(older, (e) => e['event'] === 'change', olderSaw)
    assert.equal(change['path'], 'os/g/processes')
    await shell.run(`kill ${pid}; wait ${pid}`)
    const gone = await eventWhere(newer, (e) => e['event'] === 'gone' && (e['object'] as { pid?: number }).pid === pid)
    assert.equal(gone['path'], `os/g/processes/by-pid/${pid}`)
    assert.equal((await eventWhere(older, (e) => e['event'] === 'change', olderSaw))['path'], 'os/g/processes')
    assert.deepEqual([...new Set(olderSaw)], ['change'], 'a 1.1 client gets only change events')
    newer.ws.close()
    older.ws.close()
  })

  test('the process table gains a row when a guest process starts and loses it when it is killed, without a reload', async () => {
    const page = await browser.newPage()
    await page.goto(await web.link('os/g/processes'))
    await page.locator('.process-table tbody tr[data-pid="1"]').waitFor({ timeout: 60_000 })
    const pid = await startSleeper(shell)
    const row = page.locator(`.process-table tbody tr[data-pid="${pid}"]`)
    await row.waitFor({ timeout: 60_000 })
    assert.match(await row.textContent() ?? '', /sleep 3000/)
    await screenshot(page, 'live-process-appeared')
    await shell.run(`kill ${pid}; wait ${pid}`)
    await row.waitFor({ state: 'detached', timeout: 60_000 })
    await page.close()
  })

  test('live mode lights up the bytes the guest writes; killing the program turns the view stale', async () => {
    await shell.run('/bin/mw-pattern webtag </dev/null >/tmp/webtag.out 2>&1 &')
    const out = await until('mw-pattern to report READY', async () => {
      const text = await shell.run('cat /tmp/webtag.out')
      return text.includes('READY ') ? text : undefined
    })
    const heap = /PATTERN (\d+) (0x[0-9a-f]+) \S+ heap /.exec(out)
    assert.ok(heap !== null, out)
    const pid = Number(heap[1])
    const address = BigInt(heap[2] ?? '0')
    const page = await browser.newPage()
    await page.goto(await web.link(`os/g/processes/by-pid/${pid}/mem@0x${address.toString(16)}`))
    await page.locator('.hex-grid', { hasText: 'MEMWEAVE' }).waitFor({ timeout: 60_000 })
    await page.check('.live-toggle')
    // The guest writes into its own heap; the page re-reads the screen on its timer and marks what changed.
    await shell.run(`printf 'LIVE-EDIT' | dd of=/proc/${pid}/mem bs=1 seek=$((0x${(address + 32n).toString(16)})) conv=notrunc 2>/dev/null`)
    await page.locator('.hex-grid .b.chg').first().waitFor({ timeout: 30_000 })
    await page.locator('.hex-grid', { hasText: 'LIVE-EDIT' }).waitFor()
    const changed = await page.$$eval('.hex-grid .b.chg', (cells) => cells.length)
    assert.ok(changed >= 1 && changed <= 9, `${changed} bytes marked changed`)
    await screenshot(page, 'live-changed')
    await shell.run(`kill ${pid}; wait ${pid}`)
    await page.waitForSelector('.hex-view.stale .stale-banner', { timeout: 30_000 })
    assert.match(await page.textContent('.stale-banner') ?? '', /Stale:/)
    await screenshot(page, 'live-stale')
    await page.close()
  })
})
