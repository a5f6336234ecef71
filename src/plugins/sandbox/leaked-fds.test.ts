import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readlinkSync } from 'node:fs'
import { test } from 'node:test'
import { closingLaunch, inheritableFds } from './leaked-fds.js'

test('a descriptor without O_CLOEXEC is found and closed before the child runs', () => {
  // Node opens files with O_CLOEXEC; a shell redirect in a child makes one without it, as libfuse does.
  const own = openSync('/dev/null', 'r')
  try {
    assert.ok(!inheritableFds().includes(own), 'node opens with O_CLOEXEC')
  } finally {
    closeSync(own)
  }
  const inner = closingLaunch('/bin/ls', ['/proc/self/fd'], [7])
  const leaky = spawnSync('/bin/bash', ['-c', 'exec 7</dev/null; exec "$@"', 'x', inner.command, ...inner.args], { encoding: 'utf8' })
  assert.equal(leaky.status, 0, leaky.stderr)
  assert.ok(!leaky.stdout.split('\n').includes('7'), 'fd 7 was closed before ls ran')
  const control = spawnSync('/bin/bash', ['-c', 'exec 7</dev/null; exec ls /proc/self/fd'], { encoding: 'utf8' })
  assert.ok(control.stdout.split('\n').includes('7'), 'without the wrapper fd 7 is inherited')
  assert.deepEqual(closingLaunch('/x', ['a'], []), { command: '/x', args: ['a'] })
  assert.ok(readlinkSync('/proc/self/exe').length > 0)
})

test('the wrapper keeps the environment empty', () => {
  const inner = closingLaunch('/usr/bin/env', [], [9])
  const run = spawnSync(inner.command, inner.args, { encoding: 'utf8', env: {} })
  assert.equal(run.status, 0, run.stderr)
  assert.equal(run.stdout, '')
})
