/**
 * The FUSE frontend end to end on a real mount: a node in this process
 * with a file connector over an ELF image, mounted through a
 * LocalTreeClient, and exercised only by child processes (ls, cat, dd,
 * strings, grep, bash): listing and modes, JSON leaves, dd against the
 * protocol read, gaps, control leaves and their errnos, leaves of unknown
 * size, many readers at once, and a read-only mount. The main suite runs
 * once per FUSE binding this machine has (libfuse3 and fuse-native).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CONNECTOR_OBJECT } from '../src/connectors/index.js'
import { PreadMemory } from '../src/connectors/pread/index.js'
import type { ConnectorKind, NamedConnector } from '../src/connectors/index.js'
import { mountTree } from '../src/frontends/fuse/index.js'
import type { MountedTree } from '../src/frontends/fuse/index.js'
import { LocalTreeClient } from '../src/net/index.js'
import type { MemweaveNode } from '../src/node/index.js'
import { BufferMemory } from '../src/mem/index.js'
import type { MemMetadata, PhysAddr, PhysicalMemory, PieceResult, ReadPiece, WriteResult } from '../src/mem/index.js'
import { Lifetime, readSnapshot } from '../src/tree/index.js'
import type { LeafMapping } from '../src/tree/index.js'
import { FUSE_TEST_BINDINGS, PATTERN_AT, PHYS_PATTERN, RANGE_A, RANGE_B, fuseUnavailable, memoryImage, sh, shBytes, testLog, testNode } from './fuse-kit.js'

const HAS_STRINGS = (await sh('command -v strings')).code === 0
const UNSIZED_TEXT = 'generated text whose size is only known once opened\n'.repeat(40)

/** A leaf whose metadata does not know its size, as a remote or lazily generated leaf may be. */
const unsizedLeaf: LeafMapping<NamedConnector> = {
  on: CONNECTOR_OBJECT,
  name: 'unsized',
  owner: 'fuse-test',
  leaf: (object) => ({
    type: 'leaf',
    identity: `${object.identity}/unsized`,
    lifetime: object.lifetime,
    meta: () => ({ sizeBytes: undefined, readable: true, writable: false, rpc: false, content: 'text' }),
    open: async () => {
      const bytes = new TextEncoder().encode(UNSIZED_TEXT)
      return { sizeBytes: undefined, read: async (pieces) => readSnapshot(bytes, pieces) }
    },
  }),
}

const GATE_READERS = 8

/**
 * Memory whose reads all wait until GATE_READERS of them are in flight at
 * once: if the mount served reads one after another, the gate would only
 * open by its fallback timer, and the test says so.
 */
class GatedMemory implements PhysicalMemory {
  private waiting: (() => void)[] = []
  openedBy: 'readers' | 'timer' | undefined
  private readonly inner = new BufferMemory<PhysAddr>(new Uint8Array(1 << 20).map((_, i) => (i >> 12) & 0xff))

  async read(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    if (this.openedBy === undefined) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve)
        if (this.waiting.length >= GATE_READERS) this.open('readers')
      })
    }
    return this.inner.read(pieces)
  }

  arm(): () => void {
    const timer = setTimeout(() => this.open('timer'), 20_000)
    return () => clearTimeout(timer)
  }

  private open(by: 'readers' | 'timer'): void {
    this.openedBy ??= by
    for (const wake of this.waiting.splice(0)) wake()
  }

  async write(): Promise<WriteResult[]> { return [] }
  metadata(): MemMetadata { return this.inner.metadata() }
}

function gatedConnectorKind(gated: GatedMemory): ConnectorKind {
  return {
    kind: 'gated',
    usage: 'gated (test only: reads wait for each other)',
    create: async (_args, context) => ({
      kind: 'gated',
      mem: gated,
      lifetime: new Lifetime(context.description, context.parentLifetime),
      hints: {},
      info: () => ({ kind: 'gated' }),
      close: async () => {},
    }),
  }
}

async function protocolRead(client: LocalTreeClient, path: string, addr: bigint, length: number): Promise<Buffer> {
  const { handle } = await client.open(path)
  try {
    const [result] = await client.read(handle, [{ addr, length }])
    assert.ok(result?.ok, `protocol read of ${path}`)
    return Buffer.from(result.data)
  } finally {
    await client.close(handle)
  }
}

/** Waits (a few seconds at most) for something the kernel does in the background. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(check(), what)
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

for (const implementation of FUSE_TEST_BINDINGS) describe(`FUSE mount of an in-process tree (${implementation})`, { skip: fuseUnavailable() ?? false }, () => {
  const gated = new GatedMemory()
  let dir: string
  let mnt: string
  let node: MemweaveNode
  let client: LocalTreeClient
  let mounted: MountedTree
  let image: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-'))
    mnt = join(dir, 'mnt')
    image = join(dir, 'ram.elf')
    await mkdir(mnt)
    await writeFile(image, memoryImage())
    node = testNode({ allowWrite: false, log: testLog(), connectorKinds: [gatedConnectorKind(gated)] })
    node.tree.registry.add(unsizedLeaf)
    await node.newConnector(`dump file:${image}`)
    client = new LocalTreeClient(node.tree)
    mounted = await mountTree(client, mnt, { readOnly: false, log: testLog(), implementation })
    assert.equal(mounted.implementation, implementation)
  })

  after(async () => {
    await mounted?.unmount()
    await client?.disconnect()
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists branches as directories and leaves as files with sizes and modes from their metadata', async () => {
    const root = await sh(`ls ${mnt}`)
    assert.equal(root.code, 0, root.stderr)
    assert.deepEqual(root.stdout.trim().split('\n'), ['connector', 'os', 'sys'])
    const listing = await sh(`stat -c '%n %F %s %a' ${mnt}/connector ${mnt}/connector/new ${mnt}/connector/dump/mem ${mnt}/connector/dump/info`)
    assert.equal(listing.code, 0, listing.stderr)
    const lines = listing.stdout.trim().split('\n')
    assert.equal(lines[0], `${mnt}/connector directory 4096 755`)
    assert.match(lines[1] ?? '', new RegExp(`^${mnt}/connector/new regular file \\d+ 644$`))
    // Physical memory runs to the end of the last range; memory is read-only on a node without --allow-write.
    assert.equal(lines[2], `${mnt}/connector/dump/mem regular file ${Number(RANGE_B.addr) + RANGE_B.bytes} 444`)
    assert.match(lines[3] ?? '', new RegExp(`^${mnt}/connector/dump/info regular file \\d+ 444$`))
    const missing = await sh(`ls ${mnt}/connector/nothing-here`)
    assert.notEqual(missing.code, 0)
    assert.match(missing.stderr, /No such file or directory/)
  })

  it('cat shows JSON leaves whole', async () => {
    const info = await sh(`cat ${mnt}/sys/info`)
    assert.equal(info.code, 0, info.stderr)
    const parsed = JSON.parse(info.stdout) as Record<string, unknown>
    assert.equal(parsed['pid'], process.pid)
    assert.deepEqual(parsed['connectors'], ['dump'])
    const connectorInfo = JSON.parse((await sh(`cat ${mnt}/connector/dump/info`)).stdout) as Record<string, unknown>
    assert.equal(connectorInfo['name'], 'dump')
  })

  it('dd at a known offset of a mem file equals the protocol read, and the physical gap reads as zeros', async () => {
    const offsetPages = 0x123 // inside range A
    const fromMount = await shBytes(`dd if=${mnt}/connector/dump/mem bs=4096 skip=${offsetPages} count=8 status=none`)
    assert.deepEqual(fromMount, await protocolRead(client, 'connector/dump/mem', BigInt(offsetPages * 4096), 8 * 4096))
    // 1 MiB blocks straddling the end of range A and the gap.
    const straddle = await shBytes(`dd if=${mnt}/connector/dump/mem bs=1M skip=3 count=2 status=none`)
    assert.equal(straddle.length, 2 << 20)
    assert.deepEqual(straddle.subarray(0, 1 << 20), await protocolRead(client, 'connector/dump/mem', 3n << 20n, 1 << 20))
    assert.ok(straddle.subarray(1 << 20).every((b) => b === 0), 'the gap after range A reads as zeros')
    // The whole file: as long as its size, and the pattern at its place.
    const whole = await shBytes(`cat ${mnt}/connector/dump/mem`)
    assert.equal(whole.length, Number(RANGE_B.addr) + RANGE_B.bytes)
    assert.equal(whole.subarray(Number(PATTERN_AT), Number(PATTERN_AT) + PHYS_PATTERN.length).toString(), PHYS_PATTERN)
    assert.equal(sha256(whole.subarray(0, RANGE_A.bytes)), sha256(await protocolRead(client, 'connector/dump/mem', 0n, RANGE_A.bytes)))
  })

  it(implementation === 'libfuse3' ? 'answers reads of an image file from the file itself, never through a JS buffer' : 'reads an image file through JS buffers (fuse-native)', async () => {
    const mem = node.store.connectors.get('dump')?.connector.mem
    assert.ok(mem instanceof PreadMemory)
    const before = { ...mem.stats }
    const fromMount = await shBytes(`dd if=${mnt}/connector/dump/mem bs=1M count=2 skip=3 status=none`)
    assert.deepEqual(fromMount.subarray(0, 1 << 20), await protocolRead(client, 'connector/dump/mem', 3n << 20n, 1 << 20))
    assert.ok(fromMount.subarray(1 << 20).every((b) => b === 0), 'the gap after range A reads as zeros')
    const preadsByMount = mem.stats.preads - before.preads - 1 // the protocol read of the comparison is one pread
    if (implementation === 'libfuse3') assert.equal(preadsByMount, 0, 'the mount read the file in native code (file spans)')
    else assert.ok(preadsByMount > 0)
  })

  it('strings and grep -c find a known pattern in physical memory', { skip: HAS_STRINGS ? false : 'strings (binutils) is not installed' }, async () => {
    const found = await sh(`strings -n 12 -t x ${mnt}/connector/dump/mem | grep ${PHYS_PATTERN}`)
    assert.equal(found.code, 0, found.stderr)
    assert.equal(found.stdout.trim(), `${PATTERN_AT.toString(16)} ${PHYS_PATTERN}`)
    const counted = await sh(`grep -a -c ${PHYS_PATTERN} ${mnt}/connector/dump/mem`)
    assert.equal(counted.stdout.trim(), '1')
  })

  it('echo into connector/new creates; refused lines fail with their errno and cat shows why', async () => {
    const created = await sh(`echo "second file:${image}" >> ${mnt}/connector/new`)
    assert.equal(created.code, 0, created.stderr)
    assert.match((await sh(`ls ${mnt}/connector`)).stdout, /^second$/m)
    // O_TRUNC opens (>) work too: truncating a control leaf does nothing.
    assert.equal((await sh(`echo "third file:${image}" > ${mnt}/connector/new`)).code, 0)
    assert.ok(node.store.connectors.has('third'))

    const duplicate = await sh(`echo "second file:${image}" >> ${mnt}/connector/new`)
    assert.equal(duplicate.code, 1)
    assert.match(duplicate.stderr, /write error: File exists/)
    const missingFile = await sh(`echo "x file:${dir}/no-such-image" >> ${mnt}/connector/new`)
    assert.match(missingFile.stderr, /write error: No such file or directory/)
    const malformed = await sh(`echo "bad line here" >> ${mnt}/os/new`)
    assert.match(malformed.stderr, /write error: Invalid argument/)
    const unknownKind = await sh(`echo "g nosuchkind" >> ${mnt}/os/new`)
    assert.notEqual(unknownKind.code, 0)

    const connectorLog = (await sh(`cat ${mnt}/connector/new`)).stdout
    assert.match(connectorLog, /ok: '?second file:.*'? -> connector 'second' created/)
    assert.match(connectorLog, /error: '?second file:.*'? -> .*'second' already exists/)
    assert.match(connectorLog, /error: '?x file:.*no-such-image'? -> .*ENOENT/)
    assert.match((await sh(`cat ${mnt}/os/new`)).stdout, /error: '?bad line here'? -> /)
    assert.equal((await sh(`echo second >> ${mnt}/connector/rm`)).code, 0)
    assert.equal(node.store.connectors.has('second'), false)
  })

  it('echo into os/new creates an OS whose processes list as directories', async () => {
    const created = await sh(`echo "host native" >> ${mnt}/os/new && ls ${mnt}/os/host/processes/by-pid`)
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, new RegExp(`^${process.pid}$`, 'm'))
    const info = JSON.parse((await sh(`cat ${mnt}/os/host/processes/by-pid/${process.pid}/info`)).stdout) as Record<string, unknown>
    assert.equal(info['pid'], process.pid)
  })

  it('a leaf of unknown size shows size 0 yet cat reads all of it', async () => {
    const stat = await sh(`stat -c %s ${mnt}/connector/dump/unsized`)
    assert.equal(stat.stdout.trim(), '0')
    const text = await sh(`cat ${mnt}/connector/dump/unsized`)
    assert.equal(text.stdout, UNSIZED_TEXT)
  })

  it('memory files refuse writes on a node without --allow-write, and cannot be created or truncated', async () => {
    const write = await sh(`printf 'AAAA' | dd of=${mnt}/connector/dump/mem bs=4 seek=16 conv=notrunc status=none`)
    assert.notEqual(write.code, 0)
    assert.match(write.stderr, /Permission denied/)
    const create = await sh(`echo hi > ${mnt}/connector/newfile`)
    assert.match(create.stderr, /Operation not permitted/)
  })

  it('8 parallel dd readers each get their own correct bytes', async () => {
    const offsetsMiB = [0, 1, 2, 3, 16, 0, 2, 16]
    const script = offsetsMiB.map((mib, i) => `dd if=${mnt}/connector/dump/mem bs=64k skip=${mib * 16} count=16 status=none | sha256sum | sed 's/^/${i} /' &`).join('\n')
    const result = await sh(`${script}\nwait`)
    assert.equal(result.code, 0, result.stderr)
    const got = new Map(result.stdout.trim().split('\n').map((line) => {
      const [i = '', hash = ''] = line.split(' ')
      return [Number(i), hash]
    }))
    for (const [i, mib] of offsetsMiB.entries()) {
      assert.equal(got.get(i), sha256(await protocolRead(client, 'connector/dump/mem', BigInt(mib) << 20n, 1 << 20)), `reader ${i} at ${mib} MiB`)
    }
  })

  it(`${GATE_READERS} readers are served at once, not one after another`, async () => {
    await node.newConnector('gate gated')
    const disarm = gated.arm()
    try {
      const readers = Array.from({ length: GATE_READERS }, (_, i) => `dd if=${mnt}/connector/gate/mem bs=4096 skip=${i} count=1 status=none | od -An -tx1 -N1 &`)
      const result = await sh(`${readers.join('\n')}\nwait`)
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(result.stdout.trim().split(/\s+/).sort(), Array.from({ length: GATE_READERS }, (_, i) => `0${i}`))
      assert.equal(gated.openedBy, 'readers', `all ${GATE_READERS} reads were in flight together`)
    } finally {
      disarm()
    }
  })

  it('closes every handle its opens took once the readers are done', async () => {
    const result = await sh(`cat ${mnt}/sys/info > /dev/null; dd if=${mnt}/connector/dump/mem bs=4k count=1 status=none > /dev/null`)
    assert.equal(result.code, 0, result.stderr)
    // The kernel sends releases in the background after the readers exit.
    await eventually(() => node.tree.handles.size === 0, 'every handle is closed after the readers exit')
  })
})

describe('read-only FUSE mount with owner and allow_other', { skip: fuseUnavailable() ?? false }, () => {
  let dir: string
  let node: MemweaveNode
  let mounted: MountedTree

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mw-fuse-ro-'))
    await mkdir(join(dir, 'mnt'))
    node = testNode({ allowWrite: false, log: testLog() })
    mounted = await mountTree(new LocalTreeClient(node.tree), join(dir, 'mnt'), { readOnly: true, log: testLog(), uid: 1234, gid: 5678, allowOther: true })
  })

  after(async () => {
    await mounted?.unmount()
    await node?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses every write with EROFS and shows no write bits', async () => {
    const write = await sh(`echo "x file:/dev/null" >> ${mounted.mountpoint}/connector/new`)
    assert.notEqual(write.code, 0)
    assert.match(write.stderr, /Read-only file system/)
    assert.equal((await sh(`stat -c %a ${mounted.mountpoint}/connector/new ${mounted.mountpoint}/connector`)).stdout, '444\n555\n')
    const options = (await sh(`grep ' ${mounted.mountpoint} ' /proc/self/mounts`)).stdout
    assert.match(options, /fuse\.memweave ro,/)
    assert.match(options, /allow_other/)
  })

  it('shows the owner it was given', async () => {
    assert.equal((await sh(`stat -c '%u %g' ${mounted.mountpoint} ${mounted.mountpoint}/sys/info`)).stdout, '1234 5678\n1234 5678\n')
  })
})
