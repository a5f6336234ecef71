/**
 * What ps, maps, modules and dump do (os-commands.ts defines them and loads
 * this file when one runs).
 */
import { open, rm } from 'node:fs/promises'
import type { SingleBar } from 'cli-progress'
import { isRecord, toMemweaveError } from '../../../errors/index.js'
import type { TreeClient } from '../../../net/client.js'
import { readJsonLeaves, readText, streamLeaf } from '../leaf-io.js'
import { formatSize, parsePid, sizeFromJson } from '../numbers.js'
import { cellText } from '../output.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'

const CMDLINE_WIDTH = 80

export async function psCommand(globals: GlobalOptions, os: string, tree: boolean): Promise<void> {
  await withClient(globals, async ({ client, out }) => {
    const processes = await processInfos(client, os)
    if (out.json) { out.jsonValue(processes); return }
    const ordered = tree ? treeOrder(processes) : processes.map((p) => ({ info: p, depth: 0 }))
    // A damaged guest (corrupt task_structs) adds a DAMAGE column naming what is wrong with each affected process.
    const damaged = processes.some((p) => damageText(p) !== '')
    out.table(['PID', 'PPID', 'NAME', 'STATE', 'UID', 'THR', 'CMDLINE', ...(damaged ? ['DAMAGE'] : [])], ordered.map(({ info, depth }) => [
      String(info.pid), String(info.ppid),
      `${depth > 0 ? `${'   '.repeat(depth - 1)} \\_ ` : ''}${cellText(info.name, '?')}`,
      cellText(info.state), cellText(info.uid), cellText(info.threads), cmdlineText(info),
      ...(damaged ? [damageText(info)] : []),
    ]))
  })
}

export async function mapsCommand(globals: GlobalOptions, os: string, pid: string): Promise<void> {
  const path = `${processPath(os, parsePid(pid))}/maps`
  await withClient(globals, async ({ client, out }) => {
    const text = await readText(client, path)
    if (out.json) out.jsonValue(text.split('\n').filter((l) => l.trim() !== '').map(parseMapsLine))
    else await out.raw(new TextEncoder().encode(text))
  })
}

export async function modulesCommand(globals: GlobalOptions, os: string, pid: string | undefined): Promise<void> {
  const base = pid === undefined ? `os/${os}/modules` : `${processPath(os, parsePid(pid))}/modules`
  await withClient(globals, async ({ client, out }) => {
    const names = (await client.list(base)).filter((e) => e.type === 'branch').map((e) => e.name)
    const leaves = await readJsonLeaves(client, names.map((name) => `${base}/${name}/info`))
    const infos = leaves.map((leaf, i): Record<string, unknown> => {
      if (!leaf.ok) throw leaf.error
      const name = names[i] ?? ''
      return isRecord(leaf.value) ? { name, ...leaf.value } : { name }
    })
    if (out.json) { out.jsonValue(infos); return }
    out.table(['NAME', 'BASE', 'SIZE', 'PATH'], infos.map((m) => [
      String(m.name), cellText(m.base, '?'), formatSize(sizeFromJson(m.sizeBytes ?? m.size)), typeof m.path === 'string' ? m.path : '',
    ]))
  })
}

export async function dumpCommand(globals: GlobalOptions, os: string, pid: string, file: string): Promise<void> {
  const path = `${processPath(os, parsePid(pid))}/core`
  await withClient(globals, async ({ client, out }) => {
    const bytes = await copyToFile(client, path, file, process.stderr.isTTY && !out.json)
    if (out.json) out.jsonValue({ path, file, sizeBytes: bytes })
    else out.line(`wrote ${formatSize(bytes)} (${bytes} bytes) to ${file}`)
  }, { bulk: true })
}

function processPath(os: string, pid: number): string {
  return `os/${os}/processes/by-pid/${pid}`
}

type ProcessRecord = Record<string, unknown> & { pid: number; ppid: number }

async function processInfos(client: TreeClient, os: string): Promise<ProcessRecord[]> {
  const base = `os/${os}/processes/by-pid`
  const pids = (await client.list(base)).map((e) => e.name)
  const leaves = await readJsonLeaves(client, pids.map((pid) => `${base}/${pid}/info`))
  const infos = leaves.map((leaf, i): ProcessRecord | undefined => {
    if (!leaf.ok) {
      // A process that exited between the listing and its read is not an error for ps.
      if (leaf.error.kind === 'not_found' || leaf.error.kind === 'stale') return undefined
      throw leaf.error
    }
    const info = leaf.value
    if (!isRecord(info)) return undefined
    return { ...info, pid: Number(info.pid ?? pids[i]), ppid: Number(info.ppid ?? 0) }
  })
  return infos.filter((p): p is ProcessRecord => p !== undefined).sort((a, b) => a.pid - b.pid)
}

/** Depth-first from the processes whose parent is not listed, children by pid. */
function treeOrder(processes: readonly ProcessRecord[]): { info: ProcessRecord; depth: number }[] {
  const pids = new Set(processes.map((p) => p.pid))
  const children = new Map<number, ProcessRecord[]>()
  for (const p of processes) {
    const parent = pids.has(p.ppid) && p.ppid !== p.pid ? p.ppid : -1
    children.set(parent, [...(children.get(parent) ?? []), p])
  }
  const out: { info: ProcessRecord; depth: number }[] = []
  const seen = new Set<number>()
  const visit = (parent: number, depth: number): void => {
    for (const child of children.get(parent) ?? []) {
      if (seen.has(child.pid)) continue // a cycle in lying data must not loop forever
      seen.add(child.pid)
      out.push({ info: child, depth })
      visit(child.pid, depth + 1)
    }
  }
  visit(-1, 0)
  return out
}

/** The process's damage notes (info.damage), joined and cut like a command line; '' when whole. */
function damageText(info: Record<string, unknown>): string {
  const notes = Array.isArray(info.damage) ? info.damage.map(String) : []
  const text = notes.join('; ')
  return text.length > CMDLINE_WIDTH ? `${text.slice(0, CMDLINE_WIDTH - 1)}…` : text
}

function cmdlineText(info: Record<string, unknown>): string {
  const words = Array.isArray(info.cmdline) ? info.cmdline.map(String) : []
  const text = words.length > 0 ? words.join(' ') : info.kernelThread === true ? `[${cellText(info.name)}]` : ''
  return text.length > CMDLINE_WIDTH ? `${text.slice(0, CMDLINE_WIDTH - 1)}…` : text
}

/** One /proc/PID/maps line as a record; a line that does not parse is kept as text. */
function parseMapsLine(line: string): Record<string, unknown> {
  const match = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+(\S+)\s+(\d+)\s*(.*)$/i.exec(line)
  if (match === null) return { line }
  return {
    start: `0x${match[1] ?? ''}`, end: `0x${match[2] ?? ''}`, perms: match[3], offset: `0x${match[4] ?? ''}`,
    dev: match[5], inode: Number(match[6]), path: match[7] ?? '',
  }
}

async function copyToFile(client: TreeClient, path: string, file: string, showProgress: boolean): Promise<bigint> {
  // The progress bar's package is loaded only where a bar is shown (a terminal).
  const progress = showProgress ? await import('cli-progress') : undefined
  const handle = await open(file, 'w').catch((err: unknown) => { throw toMemweaveError(err, 'cli', `cannot create ${file}`) })
  let bar: SingleBar | undefined
  let ok = false
  try {
    const bytes = await streamLeaf(client, path, async (chunk) => { await handle.write(chunk) }, {
      onOpen: (size) => {
        if (progress === undefined) return
        // A core's size is usually known at open; without it there is no percentage to show, only a count.
        bar = new progress.SingleBar({
          stream: process.stderr, hideCursor: true, clearOnComplete: true,
          format: size === undefined ? '{done} written' : '{bar} {percentage}% | {done} of {size}',
        })
        bar.start(Number(size ?? 0n), 0, { done: formatSize(0), size: formatSize(size) })
      },
      onProgress: (done) => bar?.update(Number(done), { done: formatSize(done) }),
    })
    ok = true
    return bytes
  } finally {
    bar?.stop()
    await handle.close()
    // A half-written core would load in gdb with missing memory; better none at all.
    if (!ok) await rm(file, { force: true })
  }
}
