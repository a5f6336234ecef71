/**
 * checkTask against a tiny fake kernel: task_structs (BTF from BtfBuilder)
 * in a direct-mapped 2 MiB page of fake physical memory. Each way a task
 * can end (slot reused, zombie, unlinked, exec, rename, unreadable) gets
 * its reason, and a live task comes back with its current state and parent.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PageTableCache, VirtualAddressSpace, X64_4LEVEL } from '../../arch/index.js'
import { FakePageTables, PAGE_2M } from '../../arch/testing.js'
import { BtfBuilder, parseBtf } from './btf/index.js'
import type { StructLayout } from './btf/index.js'
import type { KernelContext } from './kernel-context.js'
import { SymbolTable } from './symbol-table.js'
import { checkTask } from './task-check.js'
import { TaskFields } from './task-list.js'
import type { TaskRecord } from './task-list.js'

const DIRECT_MAP = 0xffff888000000000n
const PHYS = 0x40000000
const INIT = DIRECT_MAP + 0x1000n
const PARENT = DIRECT_MAP + 0x2000n
const TASK = DIRECT_MAP + 0x3000n
const MM = 0xffff888000100000n
const LIST_POISON2 = 0xdead000000000122n

function taskBtf(): Uint8Array {
  const b = new BtfBuilder()
  const int = b.int('int', 4, { signed: true })
  const uint = b.int('unsigned int', 4)
  const u64 = b.int('long long unsigned int', 8)
  const char = b.int('char', 1, { signed: true, char: true })
  const list = b.struct('list_head', 16)
  const listPtr = b.ptr(list)
  b.setMembers(list, [{ name: 'next', type: listPtr, bitOffset: 0 }, { name: 'prev', type: listPtr, bitOffset: 64 }])
  const task = b.struct('task_struct', 128)
  const taskPtr = b.ptr(task)
  const voidPtr = b.ptr(0)
  const fields: [string, number][] = [
    ['__state', uint], ['flags', uint], ['tasks', list], ['exit_state', int], ['pid', int], ['tgid', int], ['real_parent', taskPtr],
    ['mm', voidPtr], ['real_cred', voidPtr], ['signal', voidPtr], ['start_boottime', u64], ['comm', b.array(char, 16)],
  ]
  const offsets = [0, 4, 8, 24, 28, 32, 40, 48, 56, 64, 72, 80]
  b.setMembers(task, fields.map(([name, type], i) => ({ name, type, bitOffset: offsets[i]! * 8 })))
  return b.build()
}

interface FakeTask { pid: number; tgid?: number; comm: string; start: bigint; mm: bigint; parent: bigint; next: bigint; prev: bigint; state?: number; exitState?: number }

class FakeKernel {
  readonly tables = new FakePageTables(X64_4LEVEL, { seed: 7, noise: false, openTables: true })
  readonly kernel: KernelContext
  readonly fields: TaskFields
  private readonly layout: StructLayout

  constructor() {
    assert.ok(this.tables.map(DIRECT_MAP, BigInt(PHYS), PAGE_2M, { writable: true, user: false, executable: false }))
    const btf = parseBtf(taskBtf())
    const mem = this.tables.mem
    this.kernel = {
      mem, kmem: new VirtualAddressSpace(mem, this.tables.dtb, X64_4LEVEL, { tableCache: false, translationCache: false }), mode: X64_4LEVEL,
      dtb: this.tables.dtb, symbols: new SymbolTable('test'), btf, directMapBase: DIRECT_MAP, tableCache: new PageTableCache(),
    }
    this.fields = new TaskFields(this.kernel)
    this.layout = btf.struct('task_struct')
  }

  private u64(virt: bigint, value: bigint): void {
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setBigUint64(0, value, true)
    this.tables.mem.poke(PHYS + Number(virt - DIRECT_MAP), bytes)
  }

  private i32(virt: bigint, value: number): void {
    const bytes = new Uint8Array(4)
    new DataView(bytes.buffer).setInt32(0, value, true)
    this.tables.mem.poke(PHYS + Number(virt - DIRECT_MAP), bytes)
  }

  put(addr: bigint, t: FakeTask): void {
    const at = (field: string): bigint => addr + BigInt(this.layout.field(field).offsetBytes)
    this.i32(at('pid'), t.pid)
    this.i32(at('tgid'), t.tgid ?? t.pid)
    this.i32(at('__state'), t.state ?? 1)
    this.i32(at('exit_state'), t.exitState ?? 0)
    this.u64(at('start_boottime'), t.start)
    this.u64(at('mm'), t.mm)
    this.u64(at('real_parent'), t.parent)
    this.u64(at('tasks.next'), t.next)
    this.u64(at('tasks.prev'), t.prev)
    const comm = new Uint8Array(16)
    comm.set(new TextEncoder().encode(t.comm))
    this.tables.mem.poke(PHYS + Number(at('comm') - DIRECT_MAP), comm)
  }

  /** init ⇄ parent ⇄ task ⇄ init, all three linked both ways. */
  linked(task: Partial<FakeTask> = {}): void {
    const link = (a: bigint): bigint => a + BigInt(this.fields.tasksOffset)
    this.put(INIT, { pid: 0, comm: 'swapper/0', start: 0n, mm: 0n, parent: INIT, next: link(PARENT), prev: link(TASK) })
    this.put(PARENT, { pid: 1, comm: 'init', start: 1000n, mm: MM + 0x400n, parent: INIT, next: link(TASK), prev: link(INIT) })
    this.put(TASK, { pid: 42, comm: 'sleep', start: 5_000_000n, mm: MM, parent: PARENT, next: link(INIT), prev: link(PARENT), ...task })
  }
}

const listed: TaskRecord = {
  addr: TASK, pid: 42, tgid: 42, ppid: 7, comm: 'sleep', state: 0, exitState: 0, flags: 0, mm: MM, realCred: 0n, signal: 0n, startTime: 5_000_000n,
}

describe('checkTask (is a listed task still the same, live task?)', () => {
  it('returns the current record of a live task: state and parent re-read', async () => {
    const fake = new FakeKernel()
    fake.linked()
    const check = await checkTask(fake.kernel, fake.fields, listed)
    assert.ok(check.alive)
    assert.equal(check.task.state, 1)
    assert.equal(check.task.ppid, 1, 'parent tgid read now, not the listed 7')
    assert.equal(check.task.startTime, listed.startTime)
  })

  const cases: [string, Partial<FakeTask>, RegExp][] = [
    ['its slot holds a newer task with the same pid', { start: 9_000_000n }, /has exited \(its task_struct at 0x[0-9a-f]+ now holds another task\)/],
    ['its slot holds another pid', { pid: 43, comm: 'sh' }, /now holds another task/],
    ['it is a zombie', { exitState: 16, mm: 0n }, /has exited \(it is a zombie\)/],
    ['list_del_rcu poisoned its prev link', { prev: LIST_POISON2 }, /has exited \(it is off the task list\)/],
    ['its neighbour no longer points back at it', { prev: INIT + 8n }, /off the task list/],
    ['its mm is gone (exiting)', { mm: 0n }, /^has exited$/],
    ['it exec\'d (new mm)', { mm: MM + 0x800n, comm: 'busybox' }, /replaced its program \(exec\)/],
    ['it renamed itself', { comm: 'renamed' }, /changed its name to 'renamed'/],
  ]
  for (const [what, change, reason] of cases) {
    it(`says it is gone when ${what}`, async () => {
      const fake = new FakeKernel()
      fake.linked(change)
      const check = await checkTask(fake.kernel, fake.fields, listed)
      assert.ok(!check.alive)
      assert.match(check.reason, reason)
    })
  }

  it('says it is gone when its task_struct cannot be read', async () => {
    const fake = new FakeKernel()
    const check = await checkTask(fake.kernel, fake.fields, { ...listed, addr: DIRECT_MAP + BigInt(PAGE_2M) + 0x1000n })
    assert.ok(!check.alive)
    assert.match(check.reason, /is no longer readable/)
  })
})
