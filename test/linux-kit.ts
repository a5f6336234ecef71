/**
 * Shared helpers for the Linux guest tests: the fixture dumps built by
 * scripts/fixtures/build-guests.sh (index.json in $MEMWEAVE_CACHE or
 * <repo>/.cache/fixtures), their truth.json, and a physical-memory overlay
 * that corrupts chosen bytes without copying a 512 MiB dump.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Connector } from '../src/connectors/index.js'
import { fileConnectorKind } from '../src/connectors/file/index.js'
import type { MemMetadata, PhysAddr, PhysicalMemory, PieceResult, ReadPiece, WritePiece, WriteResult } from '../src/mem/index.js'
import { Lifetime, parseKindArgs } from '../src/tree/index.js'
import { silentLog } from './tree-kit.js'

export interface TruthProcess {
  readonly pid: number
  readonly ppid: number
  readonly name: string
  readonly state: string
  readonly uid: number
  readonly threads: number
  readonly kernelThread: boolean
  readonly cmdline: readonly string[]
  readonly startTimeTicks: number
}

export interface Truth {
  readonly release: string
  /** uname -m of the guest: x86_64 or aarch64. */
  readonly arch?: string
  readonly kaslr: { readonly text: string; readonly textSlide: string }
  readonly btf: { readonly sha256: string; readonly sizeBytes: number; readonly start: string; readonly stop: string }
  readonly kernelVars: Readonly<Record<string, { readonly address: string; readonly value: string }>>
  readonly testPids: Readonly<Record<string, number>>
  readonly processes: readonly TruthProcess[]
  readonly maps: Readonly<Record<string, string>>
  readonly environ: Readonly<Record<string, Readonly<Record<string, string>>>>
  readonly patterns: readonly { readonly pid: number; readonly address: string; readonly kind: string; readonly length: number; readonly bytes: string }[]
  readonly modules: readonly { readonly name: string; readonly size: number; readonly address: string }[]
  readonly kallsyms: Readonly<Record<string, string>>
  readonly kallsymsTypes: Readonly<Record<string, string>>
  readonly kallsymsSamples: readonly { readonly index: number; readonly address: string; readonly type: string; readonly name: string; readonly module: string | null }[]
  readonly kallsymsCount: { readonly core: number }
}

export interface LinuxFixture {
  readonly release: string
  readonly variant: string
  readonly dump: string
  readonly truth: Truth
  /** "6.1.0-56-amd64/vmcoreinfo" */
  readonly label: string
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export function fixtureRoot(): string {
  return process.env['MEMWEAVE_CACHE'] ?? join(REPO, '.cache', 'fixtures')
}

interface FixtureIndex { readonly fixtures?: readonly { readonly release: string; readonly variant: string; readonly dump: string; readonly truth: string; readonly current?: boolean }[] }

/** Every complete fixture of the current releases whose dump and truth exist. */
export function linuxFixtures(): LinuxFixture[] {
  const root = fixtureRoot()
  const indexPath = join(root, 'index.json')
  if (!existsSync(indexPath)) return []
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as FixtureIndex
  return (index.fixtures ?? [])
    .filter((f) => f.current !== false && existsSync(join(root, f.dump)) && existsSync(join(root, f.truth)))
    .map((f) => ({
      release: f.release,
      variant: f.variant,
      dump: join(root, f.dump),
      truth: JSON.parse(readFileSync(join(root, f.truth), 'utf8')) as Truth,
      label: `${f.release}/${f.variant}`,
    }))
}

export const NO_FIXTURES_REASON = `no guest dumps in ${fixtureRoot()} (run: bash scripts/fixtures/build-guests.sh)`

export { silentLog }

export async function openDump(path: string, args = ''): Promise<Connector> {
  return fileConnectorKind.create(parseKindArgs(`${path}${args}`), {
    allowWrite: false, log: silentLog, parentLifetime: new Lifetime('test'), description: `connector '${path}'`,
  })
}

/** A connector whose memory is the original with some bytes replaced (reads only), and optionally other hints. */
export function patchedConnector(inner: Connector, patches: readonly { addr: bigint; data: Uint8Array }[], hints = inner.hints): Connector {
  return { ...inner, info: () => inner.info(), close: () => inner.close(), mem: new PatchedMemory(inner.mem, patches), hints }
}

export class PatchedMemory implements PhysicalMemory {
  constructor(readonly inner: PhysicalMemory, private readonly patches: readonly { addr: bigint; data: Uint8Array }[]) {}

  async read(pieces: readonly ReadPiece<PhysAddr>[]): Promise<PieceResult[]> {
    const results = await this.inner.read(pieces)
    return results.map((result, i) => {
      const piece = pieces[i]
      if (piece === undefined || !result.ok) return result
      let data = result.data
      for (const patch of this.patches) {
        const start = patch.addr > piece.addr ? patch.addr : piece.addr
        const end = patch.addr + BigInt(patch.data.length) < piece.addr + BigInt(data.length) ? patch.addr + BigInt(patch.data.length) : piece.addr + BigInt(data.length)
        if (start >= end) continue
        if (data === result.data) data = data.slice()
        data.set(patch.data.subarray(Number(start - patch.addr), Number(end - patch.addr)), Number(start - piece.addr))
      }
      return { ok: true, data }
    })
  }

  write(pieces: readonly WritePiece<PhysAddr>[]): Promise<WriteResult[]> {
    return this.inner.write(pieces)
  }

  metadata(): MemMetadata {
    return this.inner.metadata()
  }
}

/**
 * The guest prints its truth a moment before the host pauses it for the dump, so a
 * kernel thread started in between (a workqueue adding a kworker under load) is in the
 * dump and not in the truth. This returns the truth's processes plus such late kernel
 * threads from `listed`: only children of kthreadd (ppid 2) with a pid above every pid
 * of the truth, so a process missing from the list, or any other extra one, still fails.
 */
export function truthWithLateKernelThreads(truth: Truth, listed: readonly { readonly pid: number; readonly ppid: number; readonly name: string }[]): { pid: number; ppid: number; name: string }[] {
  const lastPid = Math.max(...truth.processes.map((p) => p.pid))
  const late = listed.filter((p) => p.pid > lastPid && p.ppid === 2)
  return [...truth.processes, ...late].map((p) => ({ pid: p.pid, ppid: p.ppid, name: p.name })).sort((a, b) => a.pid - b.pid)
}
