/**
 * Process events on a live OS (a host-like OS with no connector): a new
 * process is `appeared`, an exited one `gone`, and one that runs a new
 * program (same pid and start time, a new name: exec) is `gone` under its
 * old name and `appeared` under the new one.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import type { ProcessRef } from '../os/index.js'
import { ChangeBus } from '../tree/index.js'
import type { ObjectChange } from '../tree/index.js'
import type { ObjectStore } from './object-store.js'
import { ProcessEvents } from './process-events.js'

test('appeared, gone, and an exec as gone then appeared', { timeout: 20_000 }, async () => {
  let listing: ProcessRef[] = [{ pid: 1, ppid: 0, name: 'init', startTime: 1n }, { pid: 5, ppid: 1, name: 'sh', startTime: 50n }]
  const os = {
    processes: async () => listing,
    process: async (pid: number) => { const ref = listing.find((r) => r.pid === pid); return ref === undefined ? undefined : { ref } },
  }
  // Only what the poller reads of the store: the OSs (no connector: live) and the connectors.
  const store = { oses: new Map([['g', { name: 'g', connectorName: undefined, os }]]), connectors: new Map() } as unknown as ObjectStore
  const bus = new ChangeBus()
  const events = new ProcessEvents(store, bus, pino({ level: 'silent' }), 10)
  const heard: Array<readonly ObjectChange[]> = []
  let wake: (() => void) | undefined
  bus.subscribe('os/g/processes', (_path, objects) => { if (objects !== undefined) { heard.push(objects); wake?.() } }, { polled: true })
  const next = (): Promise<readonly ObjectChange[]> => new Promise((resolve) => { wake = () => { wake = undefined; resolve(heard.shift() ?? []) } })
  const said = (changes: readonly ObjectChange[]): string[] => changes.map((c) => `${c.change} ${String(c.object['pid'])} ${String(c.object['name'])}`)
  events.start()
  await bus.prepare('os/g/processes')
  // The poller's timer does not hold the process open (unref); this does, while the test waits for its events.
  const alive = setInterval(() => undefined, 1000)
  try {
    let heardNext = next()
    listing = [...listing, { pid: 9, ppid: 1, name: 'cron', startTime: 90n }]
    assert.deepEqual(said(await heardNext), ['appeared 9 cron'])
    heardNext = next()
    listing = listing.map((r) => (r.pid === 5 ? { ...r, name: 'sleep' } : r))
    assert.deepEqual(said(await heardNext), ['gone 5 sh', 'appeared 5 sleep'])
    heardNext = next()
    listing = listing.filter((r) => r.pid !== 9)
    assert.deepEqual(said(await heardNext), ['gone 9 cron'])
  } finally {
    clearInterval(alive)
    events.stop()
  }
})
