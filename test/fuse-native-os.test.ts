/**
 * The FUSE mount over the native OS: a small C program (built here with
 * gcc) maps three pages and unmaps the middle one, and keeps a known string
 * on its heap. Through the mount, dd reads the pages around the hole (the
 * hole reads as zeros, its neighbours as the protocol reads them), gdb
 * loads the process's core file straight from the mount, and a handle held
 * across the process's exit fails with ESTALE.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { mountTree } from '../src/frontends/fuse/index.js'
import type { MountedTree } from '../src/frontends/fuse/index.js'
import { LocalTreeClient } from '../src/net/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import { fuseUnavailable, sh, shBytes, testLog, testNode } from './fuse-kit.js'
import { available } from './host-target.js'

const run = promisify(execFile)
const PATTERN = 'memweave-fuse-heap-pattern-3e91'
const PAGE = 4096

const TARGET_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char *heap = malloc(4096);
  strcpy(heap, argv[1]);
  unsigned char *pages = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(pages, 0xa5, 4096);
  memset(pages + 2 * 4096, 0x5a, 4096);
  munmap(pages + 4096, 4096);
  printf("%d %p %p\\n", getpid(), (void *)heap, (void *)pages);
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  return 0;
}
`

const HAS_GCC = await available('gcc')
const HAS_GDB = await available('gdb')

interface Target {
  readonly child: ChildProcessWithoutNullStreams
  readonly pid: number
  readonly heap: bigint
  readonly pages: bigint
}

function skipReason(): string | false {
  return fuseUnavailable() ?? (HAS_GCC ? false : 'gcc is not installed (the target program is built with it)')
}

describe('FUSE mount of the native OS', { skip: skipReason() }, () => {
  let dir: string
  let program: string
  let node: MemweaveNode
  let client: LocalTreeClient
  let mounted: MountedTree
  const targets: Target[] = []

  async function spawnTarget(): Promise<Target> {
    const child = spawn(program, [PATTERN])
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve)
      child.once('error', reject)
    })
    const [pid = '', heap = '', pages = ''] = line.trim().split(' ')
    const target = { child, pid: Number(pid), heap: BigInt(heap), pages: BigInt(pages) }
    targets.push(target)
    return target
  }

  async function protocolRead(path: string, addr: bigint, length: number): Promise<Buffer> {
    const { handle } = await client.open(path)
    try {
      const [result] = await client.read(handle, [{ addr, length }])
      assert.ok(result?.ok, `protocol read of ${path} at 0x${addr.toString(16)}`)
      return Buffer.from(result.data)
    } finally {
      await client.close(handle)
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-native-'))
    program = join(dir, 'mw-fuse-target')
    await writeFile(join(dir, 'target.c'), TARGET_C)
    await run('gcc', ['-O0', '-g', '-o', program, join(dir, 'target.c')])
    await mkdir(join(dir, 'mnt'))
    node = testNode({ allowWrite: false, log: testLog() })
    await node.newOs('host native:refresh_ms=100')
    client = new LocalTreeClient(node.tree)
    mounted = await mountTree(client, join(dir, 'mnt'), { readOnly: true, log: testLog() })
  })

  after(async () => {
    for (const t of targets) t.child.kill('SIGKILL')
    await mounted?.unmount()
    await client?.disconnect()
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('unmapped pages of process memory read as zeros, mapped ones as the protocol reads them', async () => {
    const t = await spawnTarget()
    const mem = `${mounted.mountpoint}/os/host/processes/by-pid/${t.pid}/mem`
    // A sparse file as large as the address space (2^47 or 2^48 here; 2^57 with LA57).
    const sizeBytes = (await client.stat(`os/host/processes/by-pid/${t.pid}/mem`)).meta?.sizeBytes
    assert.ok(sizeBytes !== undefined && sizeBytes >= 1n << 47n)
    assert.equal((await sh(`stat -c '%s %b' ${mem}`)).stdout.trim(), `${sizeBytes} 0`)
    const three = await shBytes(`dd if=${mem} bs=${PAGE} skip=${t.pages / BigInt(PAGE)} count=3 status=none`)
    assert.equal(three.length, 3 * PAGE)
    assert.ok(three.subarray(0, PAGE).every((b) => b === 0xa5))
    assert.ok(three.subarray(PAGE, 2 * PAGE).every((b) => b === 0), 'the unmapped middle page reads as zeros')
    assert.ok(three.subarray(2 * PAGE).every((b) => b === 0x5a))
    assert.deepEqual(three.subarray(0, PAGE), await protocolRead(`os/host/processes/by-pid/${t.pid}/mem`, t.pages, PAGE))
    // A read wholly in unmapped memory (page 1) is zeros too, and dd succeeds.
    const low = await shBytes(`dd if=${mem} bs=${PAGE} skip=1 count=1 status=none`)
    assert.deepEqual(low, Buffer.alloc(PAGE))
    // The heap string, where the program said it is.
    const heap = await shBytes(`dd if=${mem} bs=1 skip=${t.heap} count=${PATTERN.length} status=none`)
    assert.equal(heap.toString(), PATTERN)
  })

  it('gdb loads the core file straight from the mount', { skip: HAS_GDB ? false : 'gdb is not installed' }, async () => {
    const t = await spawnTarget()
    const core = `${mounted.mountpoint}/os/host/processes/by-pid/${t.pid}/core`
    const result = await sh(`gdb -nx -batch -ex 'x/s 0x${t.heap.toString(16)}' -c ${core} ${program}`, { timeoutMs: 120_000 })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, new RegExp(`0x${t.heap.toString(16)}:\\s+"${PATTERN}"`))
  })

  it('a file held open across the process exit fails with ESTALE', async () => {
    const t = await spawnTarget()
    const mem = `${mounted.mountpoint}/os/host/processes/by-pid/${t.pid}/mem`
    const skip = t.pages / BigInt(PAGE)
    const script = [
      `exec 3< ${mem}`,
      `dd bs=${PAGE} skip=${skip} count=1 status=none <&3 | od -An -tx1 -N1`,
      `kill -9 ${t.pid}`,
      `while kill -0 ${t.pid} 2>/dev/null; do sleep 0.05; done`,
      `dd bs=${PAGE} skip=${skip} count=1 status=none <&3 > /dev/null`,
    ].join('\n')
    const result = await sh(script)
    assert.equal(result.stdout.trim(), 'a5', 'the first read, before the exit, works')
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /Stale file handle/)
  })
})
