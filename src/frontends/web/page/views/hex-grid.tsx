/**
 * The rows of the hex view: address, 16 bytes, and their ASCII. A byte not
 * read yet is blank, an unmapped one `??` (never 00); the cursor, the
 * selection and recently changed bytes (live mode) are marked. Bytes are
 * text nodes: memory content is never interpreted as markup.
 *
 * The grid is the view's hot path (every new screen, every live re-read,
 * every cursor move), so preact renders its fixed structure (rows × cells)
 * once, and each render only writes the text and class of the cells that
 * changed, straight into those elements, before the frame is painted
 * (useLayoutEffect). Each byte of the hex column is a cell (its class says
 * zero, unmapped, cursor, selected, changed); the ASCII column is three
 * text runs per row (before, the cursor or selection, after), so a screen
 * is about 600 elements to lay out and paint, not 1100.
 */
import { useEffect, useLayoutEffect, useMemo, useRef } from 'preact/hooks'
import { pageOf } from '../hex-pages.js'
import type { HexPages } from '../hex-pages.js'

export const ROW_BYTES = 16
const CHANGE_GLOW_MS = 2000
/** How long a new screen may show the last one while its bytes are read (then it shows blanks until they come). */
const HOLD_MS = 150

interface GridProps {
  pages: HexPages
  top: bigint
  rows: number
  cursor: bigint
  selection: readonly [bigint, bigint] | undefined
  size: bigint
  /** Bytes per group (1, 2, 4, 8): a gap after each group. */
  group: number
  onPick: (addr: bigint, extend: boolean) => void
}

export function HexGrid(props: GridProps) {
  const grid = useRef<HTMLDivElement>(null)
  const latest = useRef(props)
  latest.current = props
  /** The top of the rows as painted (a click picks from what is shown, which a held screen is not yet). */
  const painted = useRef(props.top)
  // The structure: fixed while the number of rows is; byte cells carry their index for clicks. The ASCII column is
  // three text runs (before, the cursor or selection, after): a sixteenth of the elements a cell per character takes.
  const structure = useMemo(() => Array.from({ length: props.rows }, (_, r) => {
    const pick = (e: MouseEvent): void => {
      const target = e.target instanceof HTMLElement ? e.target : undefined
      const column = target?.dataset['a'] ?? asciiColumn(target, e.clientX)
      if (column !== undefined) latest.current.onPick(painted.current + BigInt(r * ROW_BYTES + Number(column)), e.shiftKey)
    }
    // Each cell holds one text node, whose data paint() sets.
    const cells = Array.from({ length: ROW_BYTES }, (_, i) => <span key={i} data-a={i}>{'  '}</span>)
    return <div class="row" key={r} onMouseDown={pick}><span class="addr">{' '}</span><span class="bytes">{cells}</span><span class="ascii"><span>{' '}</span><span>{' '}</span><span>{' '}</span></span></div>
  }), [props.rows])
  // What each element shows now (text and class by element), so unchanged ones are not touched.
  const shown = useMemo(() => new Map<Element, string>(), [props.rows])
  // A new screen whose bytes are still being read keeps the last full one for up to HOLD_MS: most reads come back
  // sooner, and the screen then goes from the old bytes to the new in one layout and paint, with no blank one between.
  const held = useRef<{ timer: ReturnType<typeof setTimeout> | undefined; full: boolean }>({ timer: undefined, full: false })
  useLayoutEffect(() => {
    const element = grid.current
    if (element === null) return
    const full = complete(props)
    const hold = held.current
    if (!full && hold.full) {
      hold.timer ??= setTimeout(() => { hold.timer = undefined; hold.full = false; paint(element, latest.current, shown); painted.current = latest.current.top }, HOLD_MS)
      return
    }
    clearTimeout(hold.timer)
    hold.timer = undefined
    hold.full = full
    paint(element, props, shown)
    painted.current = props.top
  })
  useEffect(() => () => clearTimeout(held.current.timer), [])
  // data-top and data-complete let tests and the bench see when a screen is filled.
  return <div class="hex-grid" ref={grid} data-top={props.top.toString(16)} data-complete={String(complete(props))}>{structure}</div>
}

/** Whether every shown row's page has been read (a row never crosses a page). */
function complete(props: GridProps): boolean {
  for (let r = 0; r < props.rows; r++) {
    const base = props.top + BigInt(r * ROW_BYTES)
    if (base >= props.size) break
    if (props.pages.page(base) === undefined) return false
  }
  return true
}

function paint(grid: HTMLDivElement, props: GridProps, shown: Map<Element, string>): void {
  const setText = (element: Element, text: string): void => {
    const node = element.firstChild
    if (!(node instanceof Text)) { element.textContent = text; return }
    if (node.data !== text) node.data = text
  }
  const setClass = (element: Element, name: string): void => {
    if (shown.get(element) === name) return
    element.className = name
    shown.set(element, name)
  }
  const digits = props.size > 1n << 48n ? 16 : 12
  const now = performance.now()
  const glowing = props.pages.changedAt.size > 0
  const rows = grid.children
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as HTMLElement
    const base = props.top + BigInt(r * ROW_BYTES)
    const visible = base < props.size
    setStyleHidden(row, !visible)
    if (!visible) continue
    const [addr, bytes, ascii] = [row.children[0] as HTMLElement, row.children[1] as HTMLElement, row.children[2] as HTMLElement]
    setText(addr, base.toString(16).padStart(digits, '0'))
    // A row never crosses a page (rows are 16-byte aligned, pages 4 KiB): one lookup per row, numbers per byte.
    const page = props.pages.page(base)
    const data = page === undefined || 'error' in page ? undefined : page.data
    const at = Number(base - pageOf(base))
    const cursor = inRow(props.cursor, base)
    const from = props.selection === undefined ? 16 : props.selection[0] <= base ? 0 : inRow(props.selection[0], base) ?? 16
    const to = props.selection === undefined ? -1 : props.selection[1] >= base + 15n ? 15 : inRow(props.selection[1], base) ?? -1
    let text = ''
    for (let i = 0; i < ROW_BYTES; i++) {
      const b = page === undefined ? undefined : data === undefined ? null : data[at + i] ?? null
      const changed = glowing && (props.pages.changedAt.get(base + BigInt(i)) ?? -Infinity) > now - CHANGE_GLOW_MS
      const cls = `${b === null ? 'un' : b === 0 ? 'z' : ''}${i === cursor ? ' cur' : ''}${i >= from && i <= to ? ' sel' : ''}${changed ? ' chg' : ''}${i === 8 ? ' mid' : props.group > 1 && i % props.group === 0 ? ' gap' : ''}`
      const cell = bytes.children[i] as HTMLElement
      setClass(cell, `b ${cls}`)
      setText(cell, b === undefined ? '  ' : b === null ? '??' : HEX[b] ?? '??')
      text += b === undefined ? ' ' : b === null ? '·' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'
    }
    // The ASCII runs: the selection within this row, else the cursor's character, is the marked middle one.
    const [markFrom, markTo] = from <= to ? [from, to] : cursor !== undefined ? [cursor, cursor] : [ROW_BYTES, ROW_BYTES - 1]
    const [before, mark, after] = [ascii.children[0] as HTMLElement, ascii.children[1] as HTMLElement, ascii.children[2] as HTMLElement]
    setClass(ascii, page !== undefined && data === undefined ? 'ascii un' : 'ascii')
    setClass(mark, from <= to ? 'sel' : markFrom <= markTo ? 'cur' : '')
    setText(before, text.slice(0, markFrom))
    setText(mark, text.slice(markFrom, markTo + 1))
    setText(after, text.slice(markTo + 1))
  }
}

/** Which character of a row's ASCII column (0..15) a click at clientX hit, when it hit that column. */
function asciiColumn(target: HTMLElement | undefined, clientX: number): number | undefined {
  const column = target?.closest('.ascii')
  if (column === null || column === undefined) return undefined
  const box = column.getBoundingClientRect()
  return Math.max(0, Math.min(ROW_BYTES - 1, Math.floor(((clientX - box.left) / box.width) * ROW_BYTES)))
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

/** Rows past the end of the space are not shown (an inline style: the stylesheet's `display: flex` would beat `hidden`). */
function setStyleHidden(element: HTMLElement, hidden: boolean): void {
  const display = hidden ? 'none' : ''
  if (element.style.display !== display) element.style.display = display
}

/** addr's offset in the row at base (0..15), or undefined outside it. */
function inRow(addr: bigint, base: bigint): number | undefined {
  const offset = addr - base
  return offset >= 0n && offset < BigInt(ROW_BYTES) ? Number(offset) : undefined
}
