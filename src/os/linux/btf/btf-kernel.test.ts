/**
 * Real kernels: the guest's BTF (Debian 6.1, pulled from the fixture kernel
 * image) and the host's own (/sys/kernel/btf/vmlinux). Checks the layouts
 * the Linux layer relies on, cross-checks offsets of whole structs against
 * pahole, and records how long the full parse takes.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import type { SpawnSyncReturns } from 'node:child_process'
import { test } from 'node:test'
import { parseBtf } from './btf.js'
import type { Btf } from './btf.js'
import { guestBtf, hostBtf } from './btf-test-data.js'
import type { TestBtf } from './btf-test-data.js'
import type { TypeInfo } from './btf-types.js'

const sources: { label: string; data: TestBtf }[] = [{ label: 'guest', data: guestBtf() }, { label: 'host', data: hostBtf() }]

function pointee(info: TypeInfo): string {
  if (info.kind !== 'ptr') return `not a pointer (${info.kind})`
  const target = info.target
  return typeof target === 'string' ? target : `${target.kind} ${'name' in target ? target.name : ''}`
}

function checkCommonLayout(btf: Btf): void {
  const list = btf.struct('list_head')
  assert.deepEqual([list.sizeBytes, list.field('next').offsetBytes, list.field('prev').offsetBytes], [16, 0, 8])
  const task = btf.struct('task_struct')
  assert.deepEqual(task.field('pid').type, { kind: 'int', name: 'int', sizeBytes: 4, signed: true })
  assert.equal(task.field('tgid').sizeBytes, 4)
  assert.equal(task.field('tgid').offsetBytes, task.field('pid').offsetBytes + 4)
  const comm = task.field('comm').type
  assert.ok(comm.kind === 'array' && comm.count === 16 && comm.element.kind === 'int' && comm.element.name === 'char')
  const tasks = task.field('tasks').type
  assert.ok(tasks.kind === 'struct' && tasks.name === 'list_head')
  assert.equal(pointee(task.field('mm').type), 'struct mm_struct')
  assert.equal(pointee(task.field('real_parent').type), 'struct task_struct')
  assert.equal(pointee(task.field('cred').type), 'struct cred')
  assert.equal(task.firstField('__state', 'state').path, '__state')
  assert.equal(task.field('thread.sp').sizeBytes, 8)
  const mm = btf.struct('mm_struct')
  for (const name of ['pgd', 'mm_mt', 'mm_mt.ma_root', 'mm_mt.ma_flags', 'arg_start', 'arg_end', 'env_start', 'start_brk', 'brk', 'start_stack']) {
    assert.ok(mm.has(name), `mm_struct.${name}`)
  }
  assert.equal(pointee(mm.field('mm_mt.ma_root').type), 'void')
  const vma = btf.struct('vm_area_struct')
  assert.deepEqual(['vm_start', 'vm_end'].map((name) => vma.field(name).offsetBytes), [0, 8])
  for (const name of ['vm_flags', 'vm_pgoff', 'vm_file', 'vm_mm']) assert.ok(vma.has(name), `vm_area_struct.${name}`)
  assert.equal(pointee(vma.field('vm_file').type), 'struct file')
  const node = btf.struct('maple_node')
  assert.equal(node.sizeBytes, 256)
  for (const name of ['maple_range_64', 'maple_arange_64']) {
    const layout = btf.struct(name)
    const pivot = layout.field('pivot').type
    const slot = layout.field('slot').type
    assert.ok(pivot.kind === 'array' && pivot.element.kind === 'int' && pivot.element.sizeBytes === 8, `${name}.pivot`)
    assert.ok(slot.kind === 'array' && slot.element.kind === 'ptr', `${name}.slot`)
  }
  assert.equal(btf.struct('maple_range_64').field('pivot').type.kind, 'array')
  assert.equal(node.field('slot').offsetBytes, 8, 'maple_node.slot sits in an anonymous struct inside an anonymous union')
  assert.equal(node.field('mr64.pivot').offsetBytes, 8)
  assert.deepEqual(['maple_dense', 'maple_leaf_64', 'maple_range_64', 'maple_arange_64'].map((name) => btf.enumValue('maple_type', name)), [0n, 1n, 2n, 3n])
  const module = btf.struct('module')
  assert.equal(pointee(module.field('list.next').type), 'struct list_head')
  assert.equal(module.field('name').type.kind, 'array')
  assert.equal(btf.sizeOf('pid_t'), 4)
  assert.equal(btf.enumValue('pid_type', 'PIDTYPE_PID'), 0n)
}

for (const { label, data } of sources) {
  const skip = data.ok ? false : data.reason
  test(`${label} BTF: parses in one pass and answers the Linux layer's layout questions`, { skip }, (t) => {
    if (!data.ok) return
    const started = performance.now()
    const btf = parseBtf(data.bytes)
    const parsedMs = performance.now() - started
    btf.struct('task_struct')
    const firstLookupMs = performance.now() - started - parsedMs
    t.diagnostic(`${data.name}: ${data.bytes.length} bytes, ${btf.typeCount} types, parse ${parsedMs.toFixed(1)} ms, name index + first lookup ${firstLookupMs.toFixed(1)} ms`)
    assert.ok(btf.typeCount > 50_000)
    // No time bound here: on a loaded machine any wall-clock limit flakes. Speed is npm run bench's
    // (the OS open of bench/linux-live.bench.ts includes this parse); the diagnostic above shows it.
    checkCommonLayout(btf)
    if (data.name.startsWith('6.1.')) {
      const module = btf.struct('module')
      assert.equal(pointee(module.field('core_layout.base').type), 'void')
      assert.equal(btf.struct('task_struct').field('pid').offsetBytes, 2416, 'pahole says 2416 in Debian 6.1.0-56')
    }
  })
}

interface PaholeMember { readonly path: string; readonly offset: number; readonly size: number; readonly bit?: number; readonly bits?: number }

/** Members with their offsets from `pahole -C NAME file`; pahole prints absolute offsets at every nesting level. */
function paholeMembers(text: string): PaholeMember[] {
  const frames: { members: PaholeMember[] }[] = [{ members: [] }]
  const member = /^\s+(.+?)\s*\b([A-Za-z_]\w*)((?:\[\d*\])*)(?::(\d+))?(?:\s*__attribute__\(\(.*\)\))?;\s*\/\*\s*(\d+)(?::\s*(\d+))?\s+(\d+)\s*\*\/$/
  for (const line of text.split('\n').slice(1)) {
    if (/\{\s*$/.test(line)) { frames.push({ members: [] }); continue }
    const close = /^\s+\}(.*);/.exec(line)
    if (close !== null) {
      const frame = frames.pop()
      const parent = frames[frames.length - 1]
      if (frame === undefined || parent === undefined) break
      const name = /^\s*([A-Za-z_]\w*)/.exec((close[1] ?? '').replace(/__attribute__\(\(.*\)\)/g, ''))?.[1]
      for (const inner of frame.members) parent.members.push(name === undefined ? inner : { ...inner, path: `${name}.${inner.path}` })
      continue
    }
    const match = member.exec(line)
    if (match === null || line.includes('(*')) continue
    const [, , name = '', , bits, offset = '0', bit, size = '0'] = match
    const entry: PaholeMember = bits === undefined
      ? { path: name, offset: Number(offset), size: Number(size) }
      : { path: name, offset: Number(offset), size: Number(size), bit: Number(bit ?? 0), bits: Number(bits) }
    frames[frames.length - 1]?.members.push(entry)
  }
  return frames[0]?.members ?? []
}

const havePahole = spawnSync('pahole', ['--version'], { encoding: 'utf8' }).status === 0
const CROSS_CHECKED = ['task_struct', 'mm_struct', 'vm_area_struct', 'module', 'maple_node', 'maple_range_64', 'file', 'dentry', 'cred', 'list_head']

for (const { label, data } of sources) {
  const skip = !data.ok ? data.reason : havePahole ? false : 'pahole not installed (apt-get install dwarves)'
  test(`${label} BTF: member offsets of ${CROSS_CHECKED.length} structs match pahole`, { skip }, (t) => {
    if (!data.ok) return
    const btf = parseBtf(data.bytes)
    let compared = 0
    const nested: string[] = []
    for (const name of CROSS_CHECKED) {
      const run: SpawnSyncReturns<string> = spawnSync('pahole', ['-C', name, data.path], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 })
      assert.equal(run.status, 0, `pahole -C ${name}: ${run.stderr.slice(0, 200)}`)
      const members = paholeMembers(run.stdout)
      assert.ok(members.length > 0, `no members parsed from pahole -C ${name}`)
      const layout = btf.struct(name)
      assert.equal(layout.sizeBytes, Number(/size: (\d+)/.exec(run.stdout)?.[1]), `${name} size`)
      for (const expected of members) {
        const field = layout.field(expected.path)
        if (expected.bits === undefined) {
          assert.deepEqual([field.offsetBytes, field.sizeBytes], [expected.offset, expected.size], `${name}.${expected.path}`)
        } else {
          assert.equal(field.offsetBytes * 8 + (field.bitOffset ?? 0), expected.offset * 8 + (expected.bit ?? 0), `${name}.${expected.path} bit position`)
          assert.equal(field.bitSize, expected.bits, `${name}.${expected.path} width`)
        }
        compared += 1
        if (expected.path.includes('.') || (name === 'maple_node' && expected.path === 'slot')) nested.push(`${name}.${expected.path}`)
      }
    }
    t.diagnostic(`${compared} members compared with pahole, ${nested.length} inside named or anonymous inline blocks`)
    assert.ok(compared > 300)
    assert.ok(nested.includes('maple_node.slot'), 'members of anonymous blocks are compared too')
    assert.ok(nested.some((path) => path.split('.').length > 2), 'members of named inline blocks are compared by dotted path')
  })
}
