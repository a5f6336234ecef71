/**
 * The hex view of a mem leaf (a process's 2^48 space, a kernel's 2^64, a
 * connector's physical memory): a screen of rows read page by page in one
 * batch, `??` for unmapped pages, a synthetic scrollbar with a minimap of
 * the mapped regions, go-to (hex, module+0xOFF, [heap]), a data inspector,
 * copy as hex / C / base64, live re-reads with changed bytes lit, and the
 * scan panel. A handle that goes stale greys the view with the reason and
 * offers to reopen the path (which may then be a different object).
 */
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks'
import { HexPages } from '../hex-pages.js'
import { defaultAddress, describeAddress, resolveAddress } from '../memory-map.js'
import type { Region } from '../memory-map.js'
import { lastNavigation, navigate, navigationHints, parentPath } from '../route.js'
import { clientOf, errorText } from '../state.js'
import { HexGrid, ROW_BYTES } from './hex-grid.js'
import { HexScrollbar } from './hex-scrollbar.js'
import { Inspector } from './inspector.js'
import { loadRegions } from './process-view.js'
import { ScanPanel } from './scan-panel.js'
import { copySelection } from './copy-formats.js'
import { addBookmark } from '../bookmarks.js'
import { download, firstUnmapped } from '../downloads.js'
import { afterNextPaint, layoutNow } from '../timing.js'

const ROWS = 32
const SCREEN = BigInt(ROWS * ROW_BYTES)
const LIVE_INTERVAL_MS = 1000

interface Opened { pages: HexPages; regions: Region[] }

function align(addr: bigint): bigint {
  return addr - (addr % BigInt(ROW_BYTES))
}

export function HexView(props: { path: string; at: string | undefined }) {
  const [opened, setOpened] = useState<Opened | undefined>(undefined)
  const [failure, setFailure] = useState<string | undefined>(undefined)
  const [stale, setStale] = useState<string | undefined>(undefined)
  const [generation, reopen] = useReducer((n: number) => n + 1, 0)
  const [top, setTop] = useState(0n)
  const [cursor, setCursor] = useState(0n)
  const [anchor, setAnchor] = useState<bigint | undefined>(undefined)
  const [littleEndian, setLittleEndian] = useState(true)
  const [group, setGroup] = useState(1)
  const [live, setLive] = useState(false)
  const [note, setNote] = useState('')
  const [, redraw] = useReducer((n: number) => n + 1, 0)
  const [scanOpen, setScanOpen] = useState(false)
  /** When the next screen was asked for (an event's time), if it was; else the read's start counts. */
  const asked = useRef<number | undefined>(undefined)
  /** A new screen being filled: when it was asked for, and when its read went and came back. */
  const filling = useRef<{ top: bigint; started: number; sentMs: number; readMs: number } | undefined>(undefined)
  const box = useRef<HTMLDivElement>(null)
  const view = useRef<HTMLDivElement>(null)
  const isProcess = /\/processes\/by-[^/]+\/[^/]+\/mem$/.test(props.path)

  // Open the leaf (and, for a process, its memory map); close it when leaving.
  useLayoutEffect(() => {
    const client = clientOf()
    let handle: number | undefined
    let live = true
    setOpened(undefined); setFailure(undefined); setStale(undefined)
    void (async () => {
      try {
        const result = await client.open(props.path)
        handle = result.handle
        const regions = isProcess ? await loadRegions(parentPath(props.path), false).catch(() => []) : []
        if (!live) return
        setOpened({ pages: new HexPages(client, result.handle, result.sizeBytes ?? 1n << 64n), regions })
      } catch (err) {
        if (live) setFailure(errorText(err))
      }
    })()
    const unsubscribe = client.onStale((event) => { if (event.handle === handle) setStale(event.reason) })
    return () => { live = false; unsubscribe(); if (handle !== undefined) void client.close(handle).catch(() => null) }
  }, [props.path, generation])

  // Place the view at the route's address (or where a process starts: its heap or main program). Layout effects
  // here and below: the read goes out in the same task as the navigation, not after the next frame.
  useLayoutEffect(() => {
    if (opened === undefined) return
    asked.current = lastNavigation.at
    const target = props.at === undefined ? (isProcess ? defaultAddress(opened.regions) : 0n) : resolveAddress(props.at, opened.regions)
    if (target === undefined) { setNote(`cannot resolve '${props.at ?? ''}': give an address, module+0xOFF or [heap]`); return }
    setNote('')
    const next = clampTop(align(target), opened.pages.sizeBytes)
    // Its read goes out now, before the view renders the move (the read effect below then waits for this one).
    void opened.pages.load(next, next + SCREEN).catch(() => undefined)
    setCursor(target)
    setAnchor(undefined)
    setTop(next)
  }, [opened, props.at])

  // A go-to in this view: its screen's read goes out before anything renders the move, and the move is rendered
  // when the read is back (route.ts holds the route for it), with the view placed there in the same turn, so it is
  // rendered once, with its bytes (the placement effect above then finds it done).
  useLayoutEffect(() => {
    if (opened === undefined) return
    const ahead = (next: { path: string; at?: string }): Promise<(() => void) | undefined> | undefined => {
      if (next.path !== props.path || next.at === undefined) return undefined
      const target = resolveAddress(next.at, opened.regions)
      if (target === undefined) return undefined
      const top = clampTop(align(target), opened.pages.sizeBytes)
      const place = (staleReason?: string): void => {
        asked.current = lastNavigation.at
        if (staleReason !== undefined) setStale(staleReason)
        setCursor(target); setAnchor(undefined); setTop(top)
      }
      // The screen's pages are held when it renders: the read effect then reads nothing, so a stale handle found by
      // this read is reported here.
      return opened.pages.load(top, top + SCREEN).then((r) => () => place(r.staleReason), () => () => place())
    }
    navigationHints.ahead = ahead
    return () => { if (navigationHints.ahead === ahead) navigationHints.ahead = undefined }
  }, [opened, props.path])

  // Read what the screen shows. A screen whose pages are all held already (a go-to read them ahead) is filled in
  // this very commit (the grid, a child, painted them in its layout effect, which runs before this one).
  useLayoutEffect(() => {
    if (opened === undefined || stale !== undefined) return
    let current = true
    const started = asked.current ?? performance.now()
    asked.current = undefined
    const filled = (sentAt: number | undefined): void => {
      // When its page's read went and came back (it may have been read ahead, before this render).
      const page = opened.pages.page(top)
      const answeredAt = page?.answeredAt ?? performance.now()
      filling.current = { top, started, sentMs: Math.max(0, (page?.sentAt ?? sentAt ?? started) - started), readMs: Math.max(0, answeredAt - started) }
    }
    if (opened.pages.pagesFor(top, top + SCREEN).every((p) => opened.pages.page(p) !== undefined)) {
      filled(undefined)
      return
    }
    opened.pages.load(top, top + SCREEN).then((r) => {
      if (!current) return
      if (r.staleReason !== undefined) setStale(r.staleReason)
      filled(r.sentAt)
      redraw(0)
    }, (err: unknown) => { if (current) setNote(errorText(err)) })
    return () => { current = false }
  }, [opened, top, stale])

  // After the grid has written the new bytes (its layout effect runs first): layout now (it would be done before the
  // paint anyway; forcing it here times it), then the frame that paints them: a task posted from its animation frame
  // callback runs after that frame's rendering. The spans go straight into the view's data- attributes (the bench
  // reads them), not into state: a render only to show them would take the main thread from the next screen.
  useLayoutEffect(() => {
    const done = filling.current
    if (done === undefined) return
    filling.current = undefined
    layoutNow(box.current)
    const domMs = performance.now() - done.started
    afterNextPaint(() => {
      const element = view.current
      if (element === null) return
      const paintMs = performance.now() - done.started
      Object.assign(element.dataset, { fillSentMs: done.sentMs.toFixed(1), fillReadMs: done.readMs.toFixed(1), fillDomMs: domMs.toFixed(1), fillPaintMs: paintMs.toFixed(1) })
      element.dataset['fillTop'] = done.top.toString(16)
    })
  })

  // Live: re-read the screen on a timer; changed bytes light up.
  useEffect(() => {
    if (!live || opened === undefined || stale !== undefined) return
    const timer = setInterval(() => {
      void opened.pages.load(top, top + SCREEN, true).then((r) => {
        if (r.staleReason !== undefined) setStale(r.staleReason)
        redraw(0)
      }, (err: unknown) => setNote(errorText(err)))
    }, LIVE_INTERVAL_MS)
    return () => clearInterval(timer)
  }, [live, opened, top, stale])

  const regions = opened?.regions ?? []
  const size = opened?.pages.sizeBytes ?? 1n
  const selection = useMemo(() => (anchor === undefined ? undefined : anchor < cursor ? [anchor, cursor] as const : [cursor, anchor] as const), [anchor, cursor])
  if (failure !== undefined) return <p class="error">{failure}</p>
  if (opened === undefined) return <p class="dim">opening…</p>

  const goTo = (addr: bigint): void => navigate({ path: props.path, at: `0x${addr.toString(16)}` })
  const move = (to: bigint, extend: boolean): void => {
    const next = to < 0n ? 0n : to >= size ? size - 1n : to
    if (extend && anchor === undefined) setAnchor(cursor)
    if (!extend) setAnchor(undefined)
    setCursor(next)
    if (next < top) setTop(align(next))
    else if (next >= top + SCREEN) setTop(clampTop(align(next) - SCREEN + BigInt(ROW_BYTES), size))
  }
  const onKey = (e: KeyboardEvent): void => {
    const steps: Record<string, bigint> = { ArrowLeft: -1n, ArrowRight: 1n, ArrowUp: -BigInt(ROW_BYTES), ArrowDown: BigInt(ROW_BYTES), PageUp: -SCREEN, PageDown: SCREEN }
    const step = steps[e.key]
    if (step !== undefined) {
      e.preventDefault()
      if (e.key.startsWith('Page')) { setTop(clampTop(top + step, size)); setCursor(cursor + step) } else move(cursor + step, e.shiftKey)
    } else if (e.key === 'Enter') {
      const target = pointerAt(opened.pages, cursor, littleEndian)
      if (target !== undefined) goTo(target)
    } else if (e.key === '/') {
      e.preventDefault(); setScanOpen(true)
    }
  }
  const copy = (format: 'hex' | 'c' | 'base64'): void => {
    const [from, to] = selection ?? [cursor, cursor + 15n]
    const text = copySelection(opened.pages, from, to, format)
    if (text.ok) { void navigator.clipboard.writeText(text.text).then(() => setNote(`copied ${to - from + 1n} bytes as ${format}`), (err: unknown) => setNote(`cannot copy: ${errorText(err)}`)) } else setNote(text.reason)
  }
  return (
    <div class={`hex-view ${stale === undefined ? '' : 'stale'}`} ref={view}>
      {stale === undefined ? null : (
        <div class="banner stale-banner">
          <strong>Stale:</strong> {stale}
          <button onClick={reopen}>Reopen {props.path}</button>
        </div>
      )}
      <div class="toolbar">
        <span class="mono where" title="cursor">{describeAddress(cursor, regions)}</span>
        <label><input type="checkbox" checked={littleEndian} onChange={(e) => setLittleEndian(e.currentTarget.checked)} /> little endian</label>
        <select value={String(group)} onChange={(e) => setGroup(Number(e.currentTarget.value))} title="byte grouping">
          <option value="1">bytes</option><option value="2">2-byte groups</option><option value="4">4-byte groups</option><option value="8">8-byte groups</option>
        </select>
        <label title="re-read the visible bytes every second"><input type="checkbox" class="live-toggle" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> live</label>
        <button onClick={() => { opened.pages.clear(); redraw(0); setTop(top + 0n) ; void opened.pages.load(top, top + SCREEN, true).then(() => redraw(0)) }} title="read the screen again">Refresh</button>
        <span class="sep" />
        <button onClick={() => copy('hex')}>Copy hex</button>
        <button onClick={() => copy('c')}>Copy C</button>
        <button onClick={() => copy('base64')}>Copy base64</button>
        <span class="sep" />
        <button onClick={() => setScanOpen(!scanOpen)} title="search this memory (/)">Scan</button>
        <button onClick={() => {
          const note = window.prompt(`Bookmark ${describeAddress(cursor, regions)} — note:`, '')
          if (note === null) return
          void addBookmark({ nodeId: clientOf().serverInfo.nodeId, path: props.path, at: `0x${cursor.toString(16)}`, note }).then(() => setNote('bookmarked'), (err: unknown) => setNote(errorText(err)))
        }} title="bookmark the cursor with a note">Bookmark</button>
        <button onClick={() => {
          const [from, to] = selection ?? [cursor, cursor + 0xfffn]
          const answer = window.prompt(`Download from 0x${from.toString(16)}: how many bytes (hex with 0x, or decimal)?`, String(to - from + 1n))
          if (answer === null || answer.trim() === '') return
          const length = BigInt(answer.trim())
          // A range with unmapped bytes is refused here rather than zero-filled (the daemon would cut the download off there).
          const hole = regions.length === 0 ? undefined : firstUnmapped(regions, from, from + length)
          if (hole !== undefined) { setNote(`0x${hole.toString(16)} is not mapped: nothing saved`); return }
          void download(clientOf(), props.path, `${props.path.replaceAll('/', '_')}@0x${from.toString(16)}.bin`, { start: from, length })
            .then((grant) => setNote(`downloading ${grant.sizeBytes ?? length} bytes`), (err: unknown) => setNote(errorText(err)))
        }} title="save a range as a file">Download…</button>
        <span class="note">{note}</span>
      </div>
      <div class="hex-body">
        <div class="hex-box" tabIndex={0} ref={box} onKeyDown={onKey}
          onWheel={(e) => { e.preventDefault(); setTop(clampTop(top + BigInt(Math.sign(e.deltaY) * 3 * ROW_BYTES), size)) }}>
          <HexGrid pages={opened.pages} top={top} rows={ROWS} cursor={cursor} selection={selection} size={size} group={group}
            onPick={(addr, extend) => { box.current?.focus(); move(addr, extend) }} />
        </div>
        <HexScrollbar top={top} size={size} screen={SCREEN} regions={regions} onSeek={(addr) => setTop(clampTop(align(addr), size))} />
        <Inspector pages={opened.pages} cursor={cursor} littleEndian={littleEndian} regions={regions} onFollow={goTo} />
      </div>
      {scanOpen ? <ScanPanel path={props.path} handle={opened.pages.handle} regions={regions} onJump={goTo} onClose={() => setScanOpen(false)} /> : null}
    </div>
  )
}

function clampTop(top: bigint, size: bigint): bigint {
  const last = size > SCREEN ? size - SCREEN : 0n
  return top < 0n ? 0n : top > last ? last : top
}

function pointerAt(pages: HexPages, addr: bigint, littleEndian: boolean): bigint | undefined {
  let value = 0n
  for (let i = 0; i < 8; i++) {
    const b = pages.byte(addr + BigInt(i))
    if (typeof b !== 'number') return undefined
    value |= BigInt(b) << BigInt(littleEndian ? 8 * i : 8 * (7 - i))
  }
  return value
}
