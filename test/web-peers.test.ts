/**
 * A peer's tree in the web page: daemon C has the guest dump; the web
 * daemon A mounts C with `--connect c=unix:…`. The page browses C's tree in
 * place (`c/os/guest/processes`), opens its processes and memory through A
 * (handle chains), and lists C's flattened OS (`os/c.guest`) beside A's own.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'
import { linuxFixtures, NO_FIXTURES_REASON } from './linux-kit.js'
import { haveChromium, launchBrowser, NO_CHROMIUM_REASON } from './web-browser.js'
import type { Browser } from './web-browser.js'
import { screenshot, startWebDaemon } from './web-kit.js'
import type { WebDaemon } from './web-kit.js'

const FIXTURE = linuxFixtures()[0]
const skip = FIXTURE === undefined ? NO_FIXTURES_REASON : !haveChromium() ? NO_CHROMIUM_REASON : false

describe('web page through a peer', { skip }, () => {
  let dir = ''
  let peer: RunningDaemon
  let web: WebDaemon
  let browser: Browser
  const pattern = FIXTURE?.truth.patterns.find((p) => p.kind === 'heap')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'memweave-web-peer-'))
    const socket = join(dir, 'c.sock')
    peer = await startDaemon(['--listen', `unix:${socket}`, '--with', `connector dump file:${FIXTURE?.dump ?? ''}`, '--with', 'os guest -c dump linux'])
    web = await startWebDaemon([], ['--connect', `c=unix:${socket}`])
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await web?.stop()
    if (peer !== undefined && peer.child.exitCode === null) await peer.stop()
    await rm(dir, { recursive: true, force: true })
  })

  test('the peer\'s processes and memory are browsable in place', async () => {
    assert.ok(pattern !== undefined && FIXTURE !== undefined)
    const page = await browser.newPage()
    await page.goto(await web.link('c/os/guest/processes'))
    await page.locator(`.process-table tbody tr >> nth=${FIXTURE.truth.processes.length - 1}`).waitFor({ timeout: 60_000 })
    const pids = await page.$$eval('.process-table tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-pid'))))
    // A kworker started between the truth and the dump may follow (see truthWithLateKernelThreads).
    const lastPid = Math.max(...FIXTURE.truth.processes.map((p) => p.pid))
    assert.deepEqual(pids.sort((a, b) => a - b).filter((pid) => pid <= lastPid), FIXTURE.truth.processes.map((p) => p.pid).sort((a, b) => a - b))
    assert.ok(await page.isVisible('.side .group-name:text-is("c.guest")'), 'the flattened OS is listed')
    await page.click(`.process-table tr[data-pid="${pattern.pid}"] td:first-child a`)
    await page.waitForSelector('table.maps tbody tr')
    await page.goto(`${web.page}#/c/os/guest/processes/by-pid/${pattern.pid}/mem@${pattern.address}`)
    await page.locator('.hex-grid', { hasText: 'MEMWEAVE-PATTERN' }).waitFor({ timeout: 30_000 })
    await screenshot(page, 'peer-hex')
    await page.goto(`${web.page}#/~graph`)
    await page.locator('.graph-svg text', { hasText: 'peer c' }).waitFor({ timeout: 30_000 })
    assert.ok(await page.isVisible('.graph-svg text:text-is("os c.guest")'), 'the peer\'s OS in the graph')
    await screenshot(page, 'composition')
    await page.close()
  })
})
