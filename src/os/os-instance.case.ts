/**
 * The shared suite every OsInstance implementation runs (docs/architecture.md §8): the
 * process listing (sorted, unique, each ref resolvable to the same
 * process), per-process info, maps, phys_maps and modules that agree with
 * each other, absent pids, lifetimes, kernel modules and refresh. A live OS
 * (the host, a running VM) may change while the cases run: there a
 * mismatch is checked again against a fresh listing before it fails.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MemweaveError } from '../errors/index.js'
import { hex } from '../mem/index.js'
import type { MapEntry, OsInstance, OsProcess, ProcessRef } from './os-model.js'

export interface OsGroundTruth {
  /** os.kind and info().kind. */
  readonly kind?: string
  /** The exact process list (pid order); ppid and name checked when given. */
  readonly processes?: readonly { readonly pid: number; readonly ppid?: number; readonly name?: string }[]
  /** Pids that must be listed (for live systems, where the full list is unknown). */
  readonly presentPids?: readonly number[]
  /** Kernel module names, in the OS's order. */
  readonly kernelModules?: readonly string[]
  /** Why kernelModules() may repeat a name; absent: names must be unique. */
  readonly duplicateModuleNames?: string
}

export interface OsInstanceCaseSetup {
  readonly os: OsInstance
  /** Processes may start, exit or exec while the cases run. */
  readonly live?: boolean
  readonly expect?: OsGroundTruth
  /** Pids whose info, maps, phys_maps and modules are checked, besides up to 9 spread over the listing. */
  readonly inspect?: readonly number[]
  close?(): Promise<void>
}

export interface OsInstanceCaseOptions {
  /** Case key (OS_INSTANCE_CASES) → why it is skipped for this implementation. */
  readonly skip?: Readonly<Partial<Record<OsInstanceCaseKey, string>>>
}

export const OS_INSTANCE_CASES = {
  info: 'info() names the kind',
  listing: 'processes() are sorted by pid, unique and well formed',
  resolve: 'every listed process resolves by pid to the same process',
  processInfo: "a process's info() matches its ref",
  maps: 'maps() are sorted, non-overlapping, with valid permissions',
  physMaps: 'physMaps() lie inside the maps',
  modules: "modules() lie inside the process's maps",
  absent: 'a pid that is not listed gives undefined',
  lifetime: 'the OS and its processes are alive',
  kernelModules: 'kernelModules() are well formed, names unique',
  refresh: 'refresh() keeps listing and lookups working',
} as const

export type OsInstanceCaseKey = keyof typeof OS_INSTANCE_CASES
type CaseKey = OsInstanceCaseKey

const PERMS = /^[r-][w-][x-][ps]$/
const DEFAULT_INSPECT = 8

interface Suite {
  readonly s: OsInstanceCaseSetup
  readonly refs: ProcessRef[]
}

/** Registers the shared cases under describe(name); setup runs once for the whole suite. */
export function runOsInstanceCases(name: string, setup: () => Promise<OsInstanceCaseSetup>, options: OsInstanceCaseOptions = {}): void {
  const known = new Set<string>(Object.keys(OS_INSTANCE_CASES))
  for (const [key, reason] of Object.entries(options.skip ?? {})) {
    if (!known.has(key)) throw new MemweaveError('os', 'invalid_argument', `skip names an unknown case '${key}'`)
    if (typeof reason !== 'string' || reason.trim() === '') throw new MemweaveError('os', 'invalid_argument', `skipping '${key}' needs a reason`)
  }
  const bodies: Record<CaseKey, (suite: Suite) => Promise<void>> = {
    info: checkInfo, listing: checkListing, resolve: checkResolve, processInfo: checkProcessInfo, maps: checkMaps,
    physMaps: checkPhysMaps, modules: checkModules, absent: checkAbsent, lifetime: checkLifetime, kernelModules: checkKernelModules, refresh: checkRefresh,
  }
  describe(`${name}: OsInstance cases`, () => {
    let suite: Suite | undefined
    before(async () => {
      const s = await setup()
      suite = { s, refs: await s.os.processes() }
    })
    after(async () => { await suite?.s.close?.() })
    for (const [key, title] of Object.entries(OS_INSTANCE_CASES) as [CaseKey, string][]) {
      it(title, { skip: options.skip?.[key] ?? false }, async () => {
        assert.ok(suite !== undefined, 'setup ran')
        await bodies[key](suite)
      })
    }
  })
}

function describeRef(ref: ProcessRef): string {
  return `pid ${ref.pid} (${ref.name}, start ${ref.startTime})`
}

/** The current ref of pid from a fresh listing, for re-checking a live mismatch. */
async function freshRef(os: OsInstance, pid: number): Promise<ProcessRef | undefined> {
  os.refresh()
  return (await os.processes()).find((r) => r.pid === pid)
}

/** Looks a listed process up; on a live OS a process that has exited since is skipped (undefined). */
async function lookup(suite: Suite, ref: ProcessRef): Promise<OsProcess | undefined> {
  const { os, live } = suite.s
  const proc = await os.process(ref.pid)
  if (proc !== undefined || live !== true) {
    assert.ok(proc !== undefined, `listed ${describeRef(ref)} does not resolve`)
    return proc
  }
  const now = await freshRef(os, ref.pid)
  assert.ok(now === undefined || now.startTime !== ref.startTime, `listed ${describeRef(ref)} is still listed but does not resolve`)
  return undefined
}

function inspected(suite: Suite): ProcessRef[] {
  const { refs, s } = suite
  const step = Math.max(1, refs.length / DEFAULT_INSPECT)
  const spread = refs.length <= DEFAULT_INSPECT ? refs : Array.from({ length: DEFAULT_INSPECT }, (_, i) => refs[Math.floor(i * step)]!).concat(refs[refs.length - 1]!)
  const extra = (s.inspect ?? []).map((pid) => {
    const ref = refs.find((r) => r.pid === pid)
    assert.ok(ref !== undefined, `pid ${pid} to inspect is not listed`)
    return ref
  })
  return [...new Set([...spread, ...extra])]
}

/** Tries per inspected process on a live OS: what it reads in several calls (maps, then phys_maps) may change in between. */
const LIVE_ATTEMPTS = 3

/** Runs body for every inspected process that still exists. */
async function eachInspected(suite: Suite, body: (proc: OsProcess, ref: ProcessRef) => Promise<void>): Promise<number> {
  const live = suite.s.live === true
  let done = 0
  for (const ref of inspected(suite)) {
    const proc = await lookup(suite, ref)
    if (proc === undefined) continue
    for (let attempt = 1; ; attempt++) {
      try {
        await body(proc, ref)
        done++
        break
      } catch (err) {
        // A live process may exit or change mid-check, and the host may not let us read every process; anything else is a failure.
        if (live && (await proc.lifetime.staleReason()) !== undefined) break
        if (live && err instanceof MemweaveError && err.kind === 'permission') break
        if (!live || attempt >= LIVE_ATTEMPTS || !(err instanceof assert.AssertionError)) throw err
      }
    }
  }
  assert.ok(done > 0 || suite.refs.length === 0, 'at least one process was checked')
  return done
}

async function checkInfo({ s }: Suite): Promise<void> {
  assert.equal(typeof s.os.kind, 'string')
  assert.ok(s.os.kind.length > 0)
  const info = await s.os.info()
  assert.equal(typeof info, 'object')
  assert.equal(info['kind'], s.os.kind, 'info().kind is os.kind')
  if (s.expect?.kind !== undefined) assert.equal(s.os.kind, s.expect.kind)
  assert.equal(typeof s.os.kernelAddressSpaceBytes, 'bigint')
  assert.ok(s.os.kernelAddressSpaceBytes >= 0n)
}

function checkSortedUnique(refs: readonly ProcessRef[], where: string): void {
  for (let i = 1; i < refs.length; i++) {
    assert.ok(refs[i - 1]!.pid < refs[i]!.pid, `${where}: pid ${refs[i - 1]!.pid} then ${refs[i]!.pid} (sorted, unique)`)
  }
}

async function checkListing({ s, refs }: Suite): Promise<void> {
  checkSortedUnique(refs, 'processes()')
  for (const r of refs) {
    assert.ok(Number.isSafeInteger(r.pid) && r.pid >= 0, `pid ${r.pid}`)
    assert.ok(Number.isSafeInteger(r.ppid) && r.ppid >= 0, `ppid ${r.ppid} of pid ${r.pid}`)
    assert.equal(typeof r.name, 'string', `name of pid ${r.pid}`)
    assert.equal(typeof r.startTime, 'bigint', `startTime of pid ${r.pid}`)
    assert.ok(r.startTime >= 0n, `startTime of pid ${r.pid}`)
  }
  const truth = s.expect?.processes
  if (truth !== undefined) {
    assert.deepEqual(refs.map((r) => r.pid), truth.map((p) => p.pid), 'the pids of the ground truth')
    truth.forEach((p, i) => {
      if (p.ppid !== undefined) assert.equal(refs[i]!.ppid, p.ppid, `ppid of pid ${p.pid}`)
      if (p.name !== undefined) assert.equal(refs[i]!.name, p.name, `name of pid ${p.pid}`)
    })
  }
  for (const pid of s.expect?.presentPids ?? []) assert.ok(refs.some((r) => r.pid === pid), `pid ${pid} is listed`)
}

async function checkResolve(suite: Suite): Promise<void> {
  const { s, refs } = suite
  let resolved = 0
  for (const ref of refs) {
    const proc = await lookup(suite, ref)
    if (proc === undefined) continue
    const same = proc.ref.pid === ref.pid && proc.ref.name === ref.name && proc.ref.startTime === ref.startTime
    if (!same && s.live === true) {
      // A live process renames itself at any time (exec, prctl, a kworker taking work), so its
      // identity is pid + start time; a reused pid must agree with a fresh listing.
      if (proc.ref.pid === ref.pid && proc.ref.startTime === ref.startTime) { resolved++; continue }
      const now = await freshRef(s.os, ref.pid)
      if (now !== undefined && now.startTime === proc.ref.startTime) { resolved++; continue }
    }
    assert.deepEqual([proc.ref.pid, proc.ref.name, proc.ref.startTime], [ref.pid, ref.name, ref.startTime], `process(${ref.pid}) is the listed process`)
    resolved++
  }
  assert.ok(resolved > 0 || refs.length === 0)
}

async function checkProcessInfo(suite: Suite): Promise<void> {
  await eachInspected(suite, async (proc, ref) => {
    const info = await proc.info()
    assert.equal(info.pid, ref.pid, `info().pid of ${describeRef(ref)}`)
    assert.equal(info.startTime, proc.ref.startTime, `info().startTime of ${describeRef(ref)}`)
    if (suite.s.live !== true) assert.equal(info.name, ref.name, `info().name of ${describeRef(ref)}`)
    assert.ok(Array.isArray(info.cmdline))
    assert.equal(typeof info.state, 'string')
    assert.ok(Number.isSafeInteger(info.threads) && info.threads >= 0, `threads of ${describeRef(ref)}`)
    assert.equal(typeof info.kernelThread, 'boolean')
    assert.ok(proc.addressSpaceBytes > 0n, `addressSpaceBytes of ${describeRef(ref)}`)
  })
}

function checkMapList(maps: readonly MapEntry[], where: string): void {
  maps.forEach((m, i) => {
    assert.ok(m.start < m.end, `${where}: map ${i} ${hex(m.start)}-${hex(m.end)} is empty or reversed`)
    assert.match(m.perms, PERMS, `${where}: map ${i} perms`)
    const next = maps[i + 1]
    if (next !== undefined) assert.ok(m.end <= next.start, `${where}: map ${i} ends at ${hex(m.end)} after the next starts at ${hex(next.start)}`)
  })
}

async function checkMaps(suite: Suite): Promise<void> {
  await eachInspected(suite, async (proc, ref) => { checkMapList(await proc.maps(), describeRef(ref)) })
}

/** Merged [start, end) extents of the maps: adjacent maps form one extent. */
function extents(maps: readonly MapEntry[]): { start: bigint; end: bigint }[] {
  const out: { start: bigint; end: bigint }[] = []
  for (const m of maps) {
    const last = out[out.length - 1]
    if (last !== undefined && m.start <= last.end) last.end = m.end > last.end ? m.end : last.end
    else out.push({ start: m.start, end: m.end })
  }
  return out
}

function covered(list: readonly { start: bigint; end: bigint }[], start: bigint, end: bigint): boolean {
  return list.some((e) => start >= e.start && end <= e.end)
}

async function checkPhysMaps(suite: Suite): Promise<void> {
  await eachInspected(suite, async (proc, ref) => {
    // maps before and after: on a live process a mapping may come or go while physMaps() reads.
    const before = await proc.maps()
    const phys = await proc.physMaps()
    const after = suite.s.live === true ? await proc.maps() : []
    const cover = extents([...before, ...after].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)))
    phys.forEach((p, i) => {
      assert.ok(p.sizeBytes > 0n, `${describeRef(ref)}: phys map ${i} has size ${p.sizeBytes}`)
      assert.ok(p.phys >= 0n)
      assert.ok(covered(cover, p.virt, p.virt + p.sizeBytes), `${describeRef(ref)}: phys map ${i} ${hex(p.virt)}+${hex(p.sizeBytes)} is outside the maps`)
      const next = phys[i + 1]
      if (next !== undefined) assert.ok(p.virt + p.sizeBytes <= next.virt, `${describeRef(ref)}: phys maps ${i} and ${i + 1} overlap or are unsorted`)
    })
  })
}

async function checkModules(suite: Suite): Promise<void> {
  await eachInspected(suite, async (proc, ref) => {
    const [maps, modules] = await Promise.all([proc.maps(), proc.modules()])
    for (const m of modules) {
      assert.ok(m.name.length > 0, `${describeRef(ref)}: a module without a name`)
      assert.ok(m.sizeBytes > 0n, `${describeRef(ref)}: module ${m.name} has size ${m.sizeBytes}`)
      assert.ok(maps.some((e) => m.base >= e.start && m.base < e.end), `${describeRef(ref)}: module ${m.name} base ${hex(m.base)} is not in a map`)
      const last = m.base + m.sizeBytes - 1n
      assert.ok(maps.some((e) => last >= e.start && last < e.end), `${describeRef(ref)}: module ${m.name} ends at ${hex(last + 1n)}, not in a map`)
    }
  })
}

async function checkAbsent({ s, refs }: Suite): Promise<void> {
  const top = refs.reduce((max, r) => Math.max(max, r.pid), 0)
  for (const pid of [top + 1000, top + 1_000_000]) {
    const proc = await s.os.process(pid)
    if (proc !== undefined && s.live === true && (await freshRef(s.os, pid)) !== undefined) continue // started meanwhile
    assert.equal(proc, undefined, `process(${pid}) of an unlisted pid`)
  }
}

async function checkLifetime(suite: Suite): Promise<void> {
  const { os } = suite.s
  assert.equal(os.lifetime.ended, false, 'the OS lifetime has not ended')
  assert.equal(await os.lifetime.staleReason(), undefined)
  await eachInspected(suite, async (proc, ref) => {
    assert.equal(await proc.lifetime.staleReason(), undefined, `${describeRef(ref)} is alive`)
  })
}

async function checkKernelModules({ s }: Suite): Promise<void> {
  const modules = await s.os.kernelModules()
  for (const m of modules) {
    assert.ok(m.name.length > 0, 'a kernel module without a name')
    assert.ok(m.sizeBytes >= 0n, `kernel module ${m.name} size`)
    assert.ok(m.base >= 0n, `kernel module ${m.name} base`)
  }
  const names = modules.map((m) => m.name)
  if (s.expect?.duplicateModuleNames === undefined) {
    const repeated = names.filter((n, i) => names.indexOf(n) !== i)
    assert.deepEqual(repeated, [], 'kernel module names are unique')
  }
  if (s.expect?.kernelModules !== undefined) assert.deepEqual(names, s.expect.kernelModules)
  if (s.os.kernelModuleMemory !== undefined) {
    for (const m of modules.slice(0, 4)) assert.equal(s.os.kernelModuleMemory(m).metadata().maxAddress, m.sizeBytes, `memory of kernel module ${m.name}`)
  }
}

async function checkRefresh(suite: Suite): Promise<void> {
  const { s, refs } = suite
  s.os.refresh()
  const again = await s.os.processes()
  checkSortedUnique(again, 'processes() after refresh()')
  if (s.live !== true) assert.deepEqual(again, refs, 'a dump lists the same processes after refresh()')
  const first = again[0]
  if (first !== undefined) await lookup({ s, refs: again }, first)
  s.os.refresh()
  await s.os.kernelModules()
  assert.equal(s.os.lifetime.ended, false)
}
