/**
 * Reads the libfuse3 addon answers itself (src/frontends/fuse/direct-reads.ts,
 * native/fuse3/fuse3.c): an image file's mem leaf, opened through a real
 * mount. They must agree byte for byte with the tree across extent edges, a
 * gap, a segment's zero tail and the end of the leaf; a strict gap is left
 * to JS (which zero-fills it, as before); a replaced image stops the addon
 * (reads fail as stale); unmounting under a reader that loops answers
 * ENOTCONN and ends the session.
 *
 * This process reads with async fs calls (the thread pool blocks on the
 * mount while the event loop answers), and a python child loops in the
 * unmount test.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { writeElfCore } from '../src/connectors/file/index.js'
import { libfuse3Unavailable } from '../src/frontends/fuse/fuse-binding.js'
import { mountTree } from '../src/frontends/fuse/index.js'
import type { MountedTree } from '../src/frontends/fuse/index.js'
import { LocalTreeClient } from '../src/net/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import { fuseUnavailable, testLog, testNode } from './fuse-kit.js'

const MIB = 1 << 20
/** RAM at [0, 4 MiB) and [16 MiB, 17 MiB), the second with only its first 512 KiB in the file (the rest: zeros). */
const A = { addr: 0, bytes: 4 * MIB }
const B = { addr: 16 * MIB, bytes: MIB / 2, memBytes: MIB }
const END = B.addr + B.memBytes

function image(seed: number): Uint8Array {
  const a = new Uint8Array(A.bytes).map((_, i) => (i * 131 + (i >> 12) + seed) & 0xff)
  const b = new Uint8Array(B.bytes).map((_, i) => 0x80 | ((i * 7 + 3 + seed) & 0x7f))
  return writeElfCore([{ addr: BigInt(A.addr), data: a }, { addr: BigInt(B.addr), data: b, memSizeBytes: BigInt(B.memBytes) }])
}

/** What the tree reads at [addr, addr + length), cut at the end of the leaf. */
async function treeBytes(client: LocalTreeClient, path: string, addr: number, length: number): Promise<Buffer> {
  const { handle } = await client.open(path)
  try {
    const wanted = Math.max(0, Math.min(length, END - addr))
    if (wanted === 0) return Buffer.alloc(0)
    const [result] = await client.read(handle, [{ addr: BigInt(addr), length: wanted }])
    assert.ok(result?.ok, `tree read at ${addr}`)
    return Buffer.from(result.data)
  } finally {
    await client.close(handle)
  }
}

async function mountBytes(file: FileHandle, addr: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  const { bytesRead } = await file.read(buffer, 0, length, addr)
  return buffer.subarray(0, bytesRead)
}

/** Waits (a few seconds at most) for something the kernel does in the background (a release). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(check(), what)
}

describe('libfuse3 answers reads of an image file in its addon', { skip: fuseUnavailable() ?? libfuse3Unavailable() ?? false }, () => {
  let dir: string
  let mnt: string
  let node: MemweaveNode
  let client: LocalTreeClient
  let mounted: MountedTree

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-direct-'))
    mnt = join(dir, 'mnt')
    await mkdir(mnt)
    await writeFile(join(dir, 'ram.elf'), image(0))
    await writeFile(join(dir, 'victim.elf'), image(1))
    node = testNode({ allowWrite: false, log: testLog() })
    await node.newConnector(`dump file:${join(dir, 'ram.elf')}`)
    await node.newConnector(`strictdump file:${join(dir, 'ram.elf')},strict=true`)
    await node.newConnector(`victim file:${join(dir, 'victim.elf')}`)
    client = new LocalTreeClient(node.tree)
    mounted = await mountTree(client, mnt, { readOnly: true, log: testLog(), implementation: 'libfuse3' })
  })

  after(async () => {
    await mounted?.unmount()
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('agrees byte for byte with the tree across extent edges, the gap, a zero tail and the end of the leaf', async () => {
    const cases: [number, number][] = [
      [0, 4096], [A.bytes - 100, 200], [A.bytes - 4096, 2 * MIB], [8 * MIB, 4096], [B.addr - 50, 100], [B.addr - MIB, 2 * MIB],
      [B.addr + B.bytes - 10, 20], [B.addr + B.bytes - 4096, 8192], [END - 100, 4096], [END - 4096, 4096], [END, 10], [END + MIB, 4096],
      [0, MIB], [3 * MIB + 12345, MIB],
    ]
    let seed = 7
    for (let i = 0; i < 40; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      cases.push([(seed % (END / 4096)) * 4096 + (i % 3 === 0 ? 4000 : 0), 4096])
    }
    const file = await open(join(mnt, 'connector/dump/mem'), 'r')
    try {
      assert.equal(mounted.directReads.files, 1, 'the open file has a map in the addon')
      const before = mounted.directReads.reads
      for (const [addr, length] of cases) {
        const got = await mountBytes(file, addr, length)
        const want = await treeBytes(client, 'connector/dump/mem', addr, length)
        assert.equal(got.length, want.length, `length at ${addr}+${length}`)
        assert.ok(got.equals(want), `bytes at ${addr}+${length}`)
      }
      // Every read above is inside the map; one that outlived a lease (a loaded machine) went through JS instead.
      assert.ok(mounted.directReads.reads > before, 'the addon answered reads itself')
    } finally {
      await file.close()
    }
    await eventually(() => mounted.directReads.files === 0, 'the released file no longer has a map')
  })

  it('leaves reads of a strict gap to JS, which zero-fills them as before', async () => {
    const file = await open(join(mnt, 'connector/strictdump/mem'), 'r')
    try {
      const first = await mountBytes(file, 0, 4096)
      assert.ok(first.equals(await treeBytes(client, 'connector/dump/mem', 0, 4096)))
      const answered = mounted.directReads.reads
      const gap = await mountBytes(file, 8 * MIB, 4096)
      assert.ok(gap.equals(Buffer.alloc(4096)), 'the strict gap reads as zeros through the mount (zeroFillUnmapped)')
      assert.equal(mounted.directReads.reads, answered, 'the gap read was answered by JS, not the addon')
      const across = await mountBytes(file, A.bytes - 2048, 4096)
      assert.ok(across.equals(Buffer.concat([await treeBytes(client, 'connector/dump/mem', A.bytes - 2048, 2048), Buffer.alloc(2048)])))
      assert.equal(mounted.directReads.reads, answered, 'a read reaching into the strict gap was answered by JS')
    } finally {
      await file.close()
    }
  })

  it('stops answering once the image is replaced: reads then fail as stale', async () => {
    const path = join(dir, 'victim.elf')
    const file = await open(join(mnt, 'connector/victim/mem'), 'r')
    try {
      const first = await mountBytes(file, 4096, 4096)
      assert.ok(first.equals(await treeBytes(client, 'connector/victim/mem', 4096, 4096)))
      await writeFile(`${path}.new`, image(2))
      await rename(`${path}.new`, path)
      let failure: unknown
      for (let i = 0; i < 500 && failure === undefined; i++) {
        try {
          const bytes = await mountBytes(file, 4096, 4096)
          assert.ok(bytes.equals(first), 'until the change is seen, the old image is read, never the new one')
          await new Promise((resolve) => setTimeout(resolve, 10))
        } catch (err) {
          failure = err
        }
      }
      // libuv has no name for ESTALE: the number says it.
      assert.equal((failure as NodeJS.ErrnoException | undefined)?.errno, -constants.errno.ESTALE, String(failure))
      assert.equal(mounted.directReads.files, 0, 'the map was revoked when the connector went stale')
    } finally {
      await file.close()
    }
  })

  it('lets a connector be removed while its mem file is open: the map is dropped and reads fail as stale', async () => {
    await node.newConnector(`gone file:${join(dir, 'ram.elf')}`)
    const file = await open(join(mnt, 'connector/gone/mem'), 'r')
    try {
      const answered = mounted.directReads.reads
      assert.ok((await mountBytes(file, 0, 4096)).equals(await treeBytes(client, 'connector/dump/mem', 0, 4096)))
      assert.equal(mounted.directReads.reads, answered + 1, 'answered by the addon')
      assert.equal(mounted.directReads.files, 1)
      const { handle } = await client.open('connector/rm')
      try {
        // The addon holds its own duplicate of the fd: the connector's close does not wait for the open file.
        const [written] = await client.write(handle, [{ addr: 0n, data: new TextEncoder().encode('gone -f\n') }])
        assert.ok(written?.ok, 'connector removed')
      } finally {
        await client.close(handle)
      }
      assert.equal(mounted.directReads.files, 0, 'the map was dropped when the connector ended')
      await assert.rejects(mountBytes(file, 0, 4096), (err: NodeJS.ErrnoException) => err.errno === -constants.errno.ESTALE)
    } finally {
      await file.close()
    }
  })

  it('answers ENOTCONN once unmounted under a reader that loops, and the session ends', async () => {
    const mnt2 = join(dir, 'mnt2')
    await mkdir(mnt2)
    const second = await mountTree(client, mnt2, { readOnly: true, log: testLog(), implementation: 'libfuse3' })
    let unmounted = false
    try {
      const program = [
        'import os, sys, random',
        `fd = os.open("${join(mnt2, 'connector/dump/mem')}", os.O_RDONLY)`,
        'n = 0',
        'while True:',
        '    try:',
        `        data = os.pread(fd, 4096, random.randrange(0, ${END / 4096}) * 4096)`,
        '    except OSError as e:',
        '        print("errno", e.errno, n, flush=True)',
        '        break',
        '    if len(data) != 4096: print("short", n, flush=True); break',
        '    n += 1',
        '    if n == 200: print("ready", flush=True)',
      ].join('\n')
      const child = spawn('python3', ['-c', program], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); if (out.includes('ready')) resolve() })
        child.once('exit', () => reject(new Error(`the reader stopped before it was ready: ${out}`)))
      })
      assert.ok(second.directReads.reads > 0, 'the reader was answered by the addon')
      await second.unmount()
      unmounted = true
      assert.equal(await exited, 0)
      assert.match(out, /^errno 107 \d+$/m, `the reader saw ENOTCONN: ${out}`)
      await second.openFilesReleased()
      assert.equal(second.directReads.files, 0)
    } finally {
      if (!unmounted) await second.unmount()
    }
  })
})
