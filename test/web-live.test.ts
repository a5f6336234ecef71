/**
 * The web page on a live QEMU guest (the fixture guest booted by
 * scripts/fixtures/run-guest.sh, opened with the qemu connector through
 * `memweave serve --web`): in live mode, bytes a guest program's memory
 * gets written light up in the hex view; when the program is killed, its
 * open view turns stale with the reason and offers to reopen.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { GuestShell, liveGuestSkipReason, startGuest, stopGuest, until } from './qemu-guest-kit.js'
import type { GuestRun } from './qemu-guest-kit.js'
import { haveChromium, launchBrowser, NO_CHROMIUM_REASON } from './web-browser.js'
import type { Browser } from './web-browser.js'
import { screenshot, startWebDaemon } from './web-kit.js'
import type { WebDaemon } from './web-kit.js'

const skip = liveGuestSkipReason() || (!haveChromium() ? NO_CHROMIUM_REASON : false)

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
