/**
 * The process table of an OS: every process's info (one open+read+close
 * each, pipelined), sortable by any column, filtered by a text box (`/`),
 * or shown as a tree by parent pid. A row opens the process (its info and
 * memory map). Names and command lines are guest data: text only.
 *
 * The table follows the OS without a reload: it watches the processes
 * branch with `objects` (1.4), adds a row when a process appears (reading
 * its info) and drops one when it goes; a plain change (through a peer)
 * lists the whole table again.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import type { Async } from '../hooks.js'
import { ProtocolError } from '../protocol.js'
import type { WatchEvent } from '../protocol.js'
import { scalarText } from '../format.js'
import { formatRoute } from '../route.js'
import { clientOf, errorText } from '../state.js'
import { afterNextPaint, layoutNow } from '../timing.js'

export interface ProcessRow {
  readonly pid: number
  readonly ppid: number
  readonly name: string
  readonly state: string
  readonly uid: number | undefined
  readonly threads: number | undefined
  readonly cmdline: string
  readonly kernel: boolean
}

type Column = 'pid' | 'ppid' | 'name' | 'state' | 'uid' | 'threads' | 'cmdline'
const COLUMNS: readonly Column[] = ['pid', 'ppid', 'name', 'state', 'uid', 'threads', 'cmdline']

/** `osPath`: the OS branch, here (`os/guest`) or on a peer (`b/os/guest`). Every info leaf in one request (get, 1.5). */
export async function loadProcesses(osPath: string): Promise<ProcessRow[]> {
  const results = await clientOf().get([`${osPath}/processes/by-pid/*/info`])
  // The pattern itself failing (no such OS, no access) is the table's error; a single process failing is not.
  const failed = results.length === 1 && results[0] !== undefined && 'error' in results[0] && results[0].path.includes('*') ? results[0].error : undefined
  if (failed !== undefined) throw new ProtocolError(failed.code, failed.message)
  return rowsOf(results)
}

/** One process's row, or undefined when it exited before its info could be read (it is simply left out). */
async function loadRow(osPath: string, pid: string): Promise<ProcessRow | undefined> {
  return rowsOf(await clientOf().get([`${osPath}/processes/by-pid/${pid}/info`]).catch(() => []))[0]
}

/** The rows of the info leaves that could be read (a process that exited meanwhile is left out). */
function rowsOf(results: ReadonlyArray<{ text: string } | { error: unknown }>): ProcessRow[] {
  const rows: ProcessRow[] = []
  for (const result of results) {
    if (!('text' in result)) continue
    try {
      rows.push(toRow(JSON.parse(result.text) as Record<string, unknown>))
    } catch {
      // Not JSON (never from a daemon): no row.
    }
  }
  return rows
}

/** An OS's processes branch, here or through peers (`b/os/guest/processes`, `os/b.guest/processes`): group 1 is the OS. */
export const PROCESSES_PATH = /^((?:[^/]+\/)*os\/[^/]+)\/processes(?:\/by-(?:pid|name|pid-name))?$/

/** A process table's first requests, started before any view renders; the table's first render takes them over. */
interface Prefetch {
  readonly osPath: string
  readonly unwatch: Promise<(() => void) | undefined>
  readonly rows: Promise<ProcessRow[]>
  /** Where the watch's events go: into `queued` until the table takes them over. */
  readonly sink: { current: (event: WatchEvent) => void }
  readonly queued: WatchEvent[]
}
let prefetched: Prefetch | undefined

/**
 * Starts an OS's process table requests (the watch, then the get) now: main.tsx calls it in the turn the hello is
 * answered when the first view is a process table, so they do not wait for the app's first render and frame.
 */
export function prefetchProcesses(osPath: string): void {
  const queued: WatchEvent[] = []
  const sink = { current: (event: WatchEvent): void => { queued.push(event) } }
  const unwatch = clientOf().watch(`${osPath}/processes`, (event) => sink.current(event), true).catch(() => undefined)
  const rows = unwatch.then(() => loadProcesses(osPath))
  rows.catch(() => undefined)
  prefetched = { osPath, unwatch, rows, sink, queued }
}

/**
 * The rows of an OS's process table, kept up to date by a watch. Events that come while the
 * table is first read are applied after it, in order.
 */
function useProcessRows(osPath: string, generation: number): Async<ProcessRow[]> {
  const [table, setTable] = useState<Async<ProcessRow[]>>({ state: 'loading' })
  // A layout effect: the requests go out with this render, not a frame later (or went before it: prefetchProcesses).
  useLayoutEffect(() => {
    let current = true
    let relist: ReturnType<typeof setTimeout> | undefined
    const taken = generation === 0 && prefetched?.osPath === osPath ? prefetched : undefined
    prefetched = undefined
    let queued: WatchEvent[] | undefined = taken?.queued ?? []
    const turns = new Map<number, number>()
    const update = (change: (rows: ProcessRow[]) => ProcessRow[]): void => {
      if (current) setTable((t) => (t.state === 'done' ? { state: 'done', value: change(t.value) } : t))
    }
    const apply = (event: WatchEvent): void => {
      if (event.event === 'change') {
        clearTimeout(relist)
        relist = setTimeout(() => { void loadProcesses(osPath).then((rows) => update(() => rows), () => undefined) }, 250)
        return
      }
      const pid = Number(event.object['pid'])
      // Only the latest event of a pid counts (an exec is gone then appeared: an older read must not win).
      const turn = (turns.get(pid) ?? 0) + 1
      turns.set(pid, turn)
      if (event.event === 'gone') { update((rows) => rows.filter((r) => r.pid !== pid)); return }
      void loadRow(osPath, String(pid)).then((row) => { if (row !== undefined && turns.get(pid) === turn) update((rows) => [...rows.filter((r) => r.pid !== pid), row]) })
    }
    const listener = (event: WatchEvent): void => { if (queued === undefined) apply(event); else queued.push(event) }
    setTable({ state: 'loading' })
    if (taken !== undefined) taken.sink.current = listener
    const unwatch = taken?.unwatch ?? clientOf().watch(`${osPath}/processes`, listener, true).catch(() => undefined)
    void (taken?.rows ?? unwatch.then(() => loadProcesses(osPath))).then((rows) => {
      if (!current) return
      setTable({ state: 'done', value: rows })
      const waiting = queued ?? []
      queued = undefined
      waiting.forEach(apply)
    }, (err: unknown) => { if (current) setTable({ state: 'failed', error: errorText(err) }) })
    return () => { current = false; clearTimeout(relist); void unwatch.then((stop) => stop?.()) }
  }, [osPath, generation])
  return table
}

function toRow(info: Record<string, unknown>): ProcessRow {
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)
  const cmdline = Array.isArray(info['cmdline']) ? info['cmdline'].map(String).join(' ') : typeof info['cmdline'] === 'string' ? info['cmdline'] : ''
  return {
    pid: num(info['pid']) ?? -1, ppid: num(info['ppid']) ?? 0, name: scalarText(info['name']), state: scalarText(info['state']),
    uid: num(info['uid']), threads: num(info['threads']), cmdline, kernel: info['kernelThread'] === true,
  }
}

/** Drops the OS's cached listings (os/NAME/refresh), so a live guest's new and exited processes show. */
async function refreshOs(osPath: string): Promise<void> {
  const client = clientOf()
  const opened = await client.open(`${osPath}/refresh`)
  try {
    await client.rpc(opened.handle, 'refresh')
  } finally {
    await client.close(opened.handle).catch(() => null)
  }
}

export function ProcessesView(props: { osPath: string }) {
  const [generation, setGeneration] = useState(0)
  const loaded = useProcessRows(props.osPath, generation)
  const [sort, setSort] = useState<{ column: Column; down: boolean }>({ column: 'pid', down: false })
  const [filter, setFilter] = useState('')
  const [tree, setTree] = useState(false)
  const [kernel, setKernel] = useState(true)
  const filterBox = useRef<HTMLInputElement>(null)
  const table = useRef<HTMLTableElement>(null)
  useFirstShown(table, loaded.state === 'done')
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === '/' && !(e.target instanceof HTMLInputElement)) { e.preventDefault(); filterBox.current?.focus() }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  const rows = loaded.state === 'done' ? loaded.value : []
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase()
    const match = (r: ProcessRow): boolean => (kernel || !r.kernel) && (needle === '' || `${r.pid} ${r.name} ${r.cmdline} ${r.state}`.toLowerCase().includes(needle))
    if (tree) return treeOrder(rows).filter(({ row }) => match(row))
    const sorted = [...rows].filter(match).sort((a, b) => compare(a[sort.column], b[sort.column]) * (sort.down ? -1 : 1))
    return sorted.map((row) => ({ row, depth: 0 }))
  }, [rows, sort, filter, tree, kernel])
  if (loaded.state === 'loading') return <p class="dim">reading the process list…</p>
  if (loaded.state === 'failed') return <p class="error">{loaded.error}</p>
  return (
    <div class="processes">
      <div class="toolbar">
        <input ref={filterBox} class="filter" placeholder="filter (/)" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} spellcheck={false} />
        <label><input type="checkbox" checked={tree} onChange={(e) => setTree(e.currentTarget.checked)} /> tree</label>
        <label><input type="checkbox" checked={kernel} onChange={(e) => setKernel(e.currentTarget.checked)} /> kernel threads</label>
        <button onClick={() => { void refreshOs(props.osPath).catch(() => undefined).then(() => setGeneration((g) => g + 1)) }} title="re-read the process list (os refresh)">Refresh</button>
        <span class="dim">{shown.length} of {rows.length} processes</span>
      </div>
      <table class="grid process-table" ref={table}>
        <thead>
          <tr>{COLUMNS.map((c) => (
            <th key={c} class={`${c === 'pid' || c === 'ppid' || c === 'uid' || c === 'threads' ? 'num' : ''} sortable`} onClick={() => setSort({ column: c, down: sort.column === c ? !sort.down : false })}>
              {c}{sort.column === c && !tree ? (sort.down ? ' ▾' : ' ▴') : ''}
            </th>
          ))}</tr>
        </thead>
        <tbody>
          {shown.map(({ row, depth }) => (
            <tr key={row.pid} class={row.kernel ? 'kernel' : ''} data-pid={row.pid}>
              <td class="num"><a href={formatRoute({ path: `${props.osPath}/processes/by-pid/${row.pid}` })}>{row.pid}</a></td>
              <td class="num">{row.ppid}</td>
              <td style={{ paddingLeft: `${0.5 + depth * 1.2}em` }}><a href={formatRoute({ path: `${props.osPath}/processes/by-pid/${row.pid}` })}>{row.name}</a></td>
              <td><span class={`state s-${row.state.slice(0, 1)}`}>{row.state}</span></td>
              <td class="num">{row.uid ?? ''}</td>
              <td class="num">{row.threads ?? ''}</td>
              <td class="cmd">{row.cmdline}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/**
 * When the first rows were in the DOM with layout done (data-dom-ms), and when the frame showing them was painted
 * (data-paint-ms), in ms from navigation start: the bench reads them. Layout is forced here (it would come before
 * the paint anyway); a task posted from the next animation frame runs after that frame's rendering.
 */
function useFirstShown(table: { readonly current: HTMLTableElement | null }, done: boolean): void {
  const timed = useRef(false)
  useLayoutEffect(() => {
    const element = table.current
    if (!done || timed.current || element === null) return
    timed.current = true
    layoutNow(element)
    element.dataset['domMs'] = performance.now().toFixed(1)
    afterNextPaint(() => { element.dataset['paintMs'] = performance.now().toFixed(1) })
  })
}

function compare(a: string | number | boolean | undefined, b: string | number | boolean | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  return String(a ?? '').localeCompare(String(b ?? ''), undefined, { numeric: true })
}

/** Depth-first by parent pid; processes whose parent is not listed are roots. */
function treeOrder(rows: readonly ProcessRow[]): Array<{ row: ProcessRow; depth: number }> {
  const pids = new Set(rows.map((r) => r.pid))
  const children = new Map<number, ProcessRow[]>()
  for (const row of rows) {
    const parent = pids.has(row.ppid) && row.ppid !== row.pid ? row.ppid : -1
    children.set(parent, [...(children.get(parent) ?? []), row])
  }
  const out: Array<{ row: ProcessRow; depth: number }> = []
  const seen = new Set<number>()
  const walk = (parent: number, depth: number): void => {
    for (const row of (children.get(parent) ?? []).sort((a, b) => a.pid - b.pid)) {
      if (seen.has(row.pid)) continue
      seen.add(row.pid)
      out.push({ row, depth })
      walk(row.pid, depth + 1)
    }
  }
  walk(-1, 0)
  return out
}
