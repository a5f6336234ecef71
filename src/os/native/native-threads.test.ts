/** Host threads without ptrace: the syscall file's three shapes, and a real blocked child. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { parseSyscallFile, readNativeThreads } from './native-threads.js'

test('the syscall file gives rip, rsp and the call number, or says why not', () => {
  const blocked = parseSyscallFile('230 0x0 0x0 0x7ffd1 0x0 0x0 0x0 0x7ffd75e60600 0x7f95510c7b95\n')
  assert.ok('regs' in blocked)
  assert.equal(blocked.regs.rip, 0x7f95510c7b95n)
  assert.equal(blocked.regs.rsp, 0x7ffd75e60600n)
  assert.equal(blocked.regs.orig_rax, 230n)
  const outside = parseSyscallFile('-1 0x7ffd0 0x4010\n')
  assert.ok('regs' in outside && outside.regs.rip === 0x4010n && outside.regs.orig_rax === 0xffffffffffffffffn)
  assert.deepEqual(parseSyscallFile('running\n'), { why: 'running on a CPU: its registers are not saved anywhere readable' })
  assert.ok('why' in parseSyscallFile('garbage'))
})

test('a child blocked in nanosleep shows one thread with rip and rsp and a warning naming what is missing', { skip: process.arch !== 'x64' ? 'x86-64 hosts only' : false }, async () => {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' })
  try {
    await once(child, 'spawn')
    // The child is blocked once its syscall file names a call; poll briefly (exec and startup first).
    let threads = await readNativeThreads(child.pid ?? 0, 'x86_64')
    for (let i = 0; i < 200 && threads[0]?.registers.source !== 'proc-syscall'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      threads = await readNativeThreads(child.pid ?? 0, 'x86_64')
    }
    assert.equal(threads.length, 1)
    const [main] = threads
    assert.equal(main?.tid, child.pid)
    assert.equal(main?.registers.source, 'proc-syscall')
    assert.ok(main?.registers.arch === 'x86_64' && main.registers.regs.rip > 0n && main.registers.regs.rsp > 0n)
    assert.match(main?.registers.warnings.join('') ?? '', /need ptrace/)
  } finally {
    child.kill('SIGKILL')
  }
})
