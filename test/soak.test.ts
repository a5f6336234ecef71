/**
 * The short soak (bench/soak.ts) as a test: 60 seconds of mixed clients on
 * unix (ring and inline) and TCP, clients killed at random, a peer killed
 * and restarted, a dump replaced on disk. It fails on any error a fault does
 * not explain, and on RSS or fd growth after warm-up. Run in its own process:
 * the daemons are real, and the report is the bench's.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { SoakReport } from '../bench/soak.js'

const REPO = fileURLToPath(new URL('..', import.meta.url))

test('a 60-second soak: only expected errors, RSS and fds flat after warm-up', { timeout: 240_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--seconds', '60', '--clients', '6'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
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
  assert.ok(report.ops > 0 && report.faults.clientsKilled > 0 && report.faults.peerRestarts > 0 && report.faults.dumpReplacements > 0, JSON.stringify(report.faults))
})
