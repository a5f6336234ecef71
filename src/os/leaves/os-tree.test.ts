import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { virtAddr } from '../../mem/index.js'
import type { PieceResult, ReadPiece } from '../../mem/index.js'
import { jsonLeaf, staticBranch, Tree } from '../../tree/index.js'
import type { Entry, LeafMapping, Mapping, OpenResult, Stat } from '../../tree/index.js'
import { OS_OBJECT, PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'
import { OS_MAPPINGS } from './os-mappings.js'
import { mapEntry, PageMemory, TestOs } from '../os-test-kit.js'

function isKind(kind: string) {
  return (err: unknown): boolean => err instanceof MemweaveError && err.kind === kind
}

/** The tree a node would build for one OS named 't', driven through the tree's own calls. */
function setup(os: TestOs, extra: readonly Mapping<never>[] = []): { client: TestClient } {
  const tree = new Tree({ allowWrite: false })
  for (const mapping of [...OS_MAPPINGS, ...extra]) tree.registry.add(mapping)
  const osBranch = tree.registry.objectBranch({
    class: OS_OBJECT, value: { name: 't', kind: 'test', os, openMs: 1, connectorName: undefined }, identity: 'os:t#1', lifetime: os.lifetime,
  })
  tree.setRoot(staticBranch({ os: staticBranch({ t: osBranch }) }))
  const owner = 'test'
  return {
    client: {
      list: (path) => tree.list(path),
      stat: (path) => tree.stat(path),
      open: (path) => tree.open(path, owner),
      read: (handle, pieces) => tree.read(handle, pieces, owner),
      close: (handle) => tree.close(handle, owner),
      rpc: (handle, request) => tree.rpc(handle, request, owner),
    },
  }
}

interface TestClient {
  list(path: string): Promise<Entry[]>
  stat(path: string): Promise<Stat>
  open(path: string): Promise<OpenResult>
  read(handle: number, pieces: readonly ReadPiece[]): Promise<PieceResult[]>
  close(handle: number): Promise<void>
  rpc(handle: number, request: unknown): Promise<unknown>
}

async function text(client: TestClient, path: string): Promise<string> {
  const opened = await client.open(path)
  try {
    const [result] = await client.read(opened.handle, [{ addr: 0n, length: 1 << 20 }])
    assert.ok(result?.ok)
    return Buffer.from(result.data).toString()
  } finally {
    await client.close(opened.handle)
  }
}

function elfImage(mem: PageMemory, at: bigint): void {
  mem.set(at, new Uint8Array([0x7f, 0x45, 0x4c, 0x46]))
}

test('os/NAME shows info, modules, processes and refresh; kmem only where the OS has kernel memory', async () => {
  const { client } = setup(new TestOs())
  assert.deepEqual((await client.list('os/t')).map((e) => e.name), ['info', 'modules', 'processes', 'refresh'])
  const info = JSON.parse(await text(client, 'os/t/info')) as Record<string, unknown>
  assert.equal(info['name'], 't')
  assert.equal(info['kind'], 'test')
  assert.equal(info['connector'], null)
  assert.equal(info['kernelRelease'], '0.0-test')
  const refresh = await client.open('os/t/refresh')
  assert.equal(await client.rpc(refresh.handle, ''), "os 't' refreshed")
  await client.close(refresh.handle)
  const withKernel = setup(new TestOs(new PageMemory(), [{ name: 'ext4', base: virtAddr(0xffffffffc0000000n), sizeBytes: 0x1000n, path: undefined }]))
  assert.ok((await withKernel.client.list('os/t')).some((e) => e.name === 'kmem' && e.meta?.sizeBytes === 1n << 48n))
  assert.deepEqual((await withKernel.client.list('os/t/modules')).map((e) => e.name), ['ext4'])
  // No kernelModuleMemory: a kernel module has info but no mem.
  assert.deepEqual((await withKernel.client.list('os/t/modules/ext4')).map((e) => e.name), ['info'])
  assert.equal((JSON.parse(await text(withKernel.client, 'os/t/modules/ext4/info')) as Record<string, unknown>)['base'], '0xffffffffc0000000')
})

test('by-name takes the lowest pid, escapes slashes; by-pid-name disambiguates', async () => {
  const os = new TestOs()
  os.add({ pid: 30, name: 'sshd' })
  os.add({ pid: 12, name: 'sshd' })
  os.add({ pid: 7, name: 'kworker/0:1' })
  os.add({ pid: 8, name: '..' })
  const { client } = setup(os)
  assert.deepEqual((await client.list('os/t/processes')).map((e) => e.name), ['by-name', 'by-pid', 'by-pid-name', 'readme'])
  assert.deepEqual((await client.list('os/t/processes/by-pid')).map((e) => e.name), ['7', '8', '12', '30'])
  assert.deepEqual((await client.list('os/t/processes/by-name')).map((e) => e.name).sort(), ['kworker\u22150:1', 'sshd', '\u2024\u2024'].sort())
  assert.equal((JSON.parse(await text(client, 'os/t/processes/by-name/sshd/info')) as Record<string, unknown>)['pid'], 12)
  assert.equal((JSON.parse(await text(client, 'os/t/processes/by-name/kworker\u22150:1/info')) as Record<string, unknown>)['name'], 'kworker/0:1')
  assert.equal((JSON.parse(await text(client, 'os/t/processes/by-pid-name/sshd (30)/info')) as Record<string, unknown>)['pid'], 30)
  await assert.rejects(client.stat('os/t/processes/by-pid-name/bash (30)'), isKind('not_found'))
  await assert.rejects(client.stat('os/t/processes/by-pid/031'), isKind('not_found'))
  await assert.rejects(client.stat('os/t/processes/by-pid/99'), isKind('not_found'))
  assert.match(await text(client, 'os/t/processes/readme'), /LOWEST pid/)
})

test('a process branch has the built-in leaves and plugin mappings', async () => {
  const os = new TestOs()
  const mem = new PageMemory()
  elfImage(mem, 0x400000n)
  elfImage(mem, 0x7f0000000000n)
  elfImage(mem, 0x7f1000000000n)
  os.add({
    pid: 5, name: 'app', mem, environ: { HOME: '/root', MULTI: 'a\nb' },
    maps: [
      mapEntry(0x400000n, 0x401000n, 'r--p', '/bin/app'),
      mapEntry(0x401000n, 0x403000n, 'r-xp', '/bin/app', 0x1000n),
      mapEntry(0x7f0000000000n, 0x7f0000001000n, 'r--p', '/lib/libx.so'),
      mapEntry(0x7f1000000000n, 0x7f1000002000n, 'r--p', '/opt/lib/libx.so'),
      mapEntry(0x7f2000000000n, 0x7f2000001000n, 'r--p', '/data/not-elf'),
    ],
  })
  os.add({ pid: 6, name: 'noenv' })
  const plugin: LeafMapping<ProcessObject> = {
    on: PROCESS_OBJECT, name: 'pid.txt', owner: 'test-plugin', appliesTo: (p) => p.process.ref.name === 'app',
    leaf: (o) => jsonLeaf(`${o.identity}/pid.txt`, o.lifetime, () => o.value.process.ref.pid),
  }
  const { client } = setup(os, [plugin])
  assert.deepEqual((await client.list('os/t/processes/by-pid/5')).map((e) => e.name),
    ['core', 'info', 'maps', 'mem', 'modules', 'phys_maps', 'pid.txt'])
  assert.ok(!(await client.list('os/t/processes/by-pid/6')).some((e) => e.name === 'pid.txt'))
  assert.equal(await text(client, 'os/t/processes/by-pid/5/pid.txt'), '5\n')
  assert.equal((await text(client, 'os/t/processes/by-pid/5/maps')).split('\n').length, 6)
  assert.deepEqual((await client.list('os/t/processes/by-pid/5/modules')).map((e) => e.name), ['app', 'libx.so', 'libx.so@0x7f1000000000'])
  const image = JSON.parse(await text(client, 'os/t/processes/by-pid/5/modules/app/info')) as Record<string, unknown>
  assert.deepEqual([image['base'], image['sizeBytes'], image['path'], image['pid']], [0x400000, 0x3000, '/bin/app', 5])
  const opened = await client.open('os/t/processes/by-pid/5/modules/libx.so@0x7f1000000000/mem')
  assert.equal(opened.sizeBytes, 0x2000n)
  const [magic, outside] = await client.read(opened.handle, [{ addr: 0n, length: 4 }, { addr: 0x2000n, length: 1 }])
  assert.ok(magic?.ok && magic.data[0] === 0x7f)
  assert.ok(outside !== undefined && !outside.ok && outside.error.kind === 'out_of_bounds')
  await client.close(opened.handle)
})

test('a process identity includes its start time: a reused pid is a new handle, the old one is stale', async () => {
  const os = new TestOs()
  os.add({ pid: 9, name: 'first', startTime: 1n })
  const { client } = setup(os)
  const old = await client.open('os/t/processes/by-pid/9/info')
  const again = await client.open('os/t/processes/by-pid/9/info')
  assert.equal(again.handle, old.handle, 'same process: shared handle')
  os.add({ pid: 9, name: 'second', startTime: 2n })
  await assert.rejects(client.read(old.handle, [{ addr: 0n, length: 1 }]), (err: unknown) => isKind('stale')(err) && /pid reused/.test(String(err)))
  const fresh = await client.open('os/t/processes/by-pid/9/info')
  assert.notEqual(fresh.handle, old.handle)
  const [data] = await client.read(fresh.handle, [{ addr: 0n, length: 1000 }])
  assert.ok(data?.ok && /"second"/.test(Buffer.from(data.data).toString()))
})
