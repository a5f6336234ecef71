/**
 * The short soak (bench/soak.ts) as a test: 60 seconds of mixed clients on
 * unix (ring and inline) and TCP — reads, listings, ps/maps/scan on a Linux
 * guest dump, a crashing plugin's leaf — clients killed at random, a peer
 * killed and restarted every 10 s, a dump replaced on disk, the plugin
 * crashed. It fails on any error a fault does not explain, and on RSS or fd
 * growth after warm-up (a trend test). The live QEMU guest is left to
 * `npm run soak`: it boots in TCG here (a minute or more), which does not fit
 * the 2-minute budget of this test. Run in its own process: the daemons are
 * real, and the report is the bench's.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { SoakReport } from '../bench/soak.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))

test('a 60-second soak (guest dump, crashing plugin, peer restarts): only expected errors, RSS and fds flat after warm-up', { timeout: 240_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--seconds', '60', '--clients', '6', '--no-live', '--peer-every', '10'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  await once(child, 'exit')
  const last = out.trim().split('\n').pop() ?? ''
  assert.ok(last.startsWith('{'), `the soak printed no report: ${err.slice(-2000)}`)
  const report = JSON.parse(last) as SoakReport
  assert.deepEqual(report.unexpected, {}, JSON.stringify(report.errors))
  assert.ok(report.ok, report.why.join('; '))
  assert.ok(report.ops > 0 && report.faults.clientsKilled > 0 && report.faults.peerRestarts > 0 && report.faults.dumpReplacements > 0 && report.faults.pluginCrashes > 0,
    JSON.stringify(report.faults))
  for (const kind of ['guest-ps', 'guest-maps', 'guest-scan', 'plugin-leaf']) assert.ok((report.opsByKind[kind] ?? 0) > 0, `${kind} ran: ${JSON.stringify(report.opsByKind)}`)
})
