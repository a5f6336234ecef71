/**
 * The rows of the hex view: address, 16 bytes, and their ASCII. A byte not
 * read yet is blank, an unmapped one `??` (never 00); the cursor, the
 * selection and recently changed bytes (live mode) are marked. Bytes are
 * text nodes: memory content is never interpreted as markup.
 */
import type { HexPages } from '../hex-pages.js'

export const ROW_BYTES = 16
const CHANGE_GLOW_MS = 2000

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
  const digits = props.size > 1n << 48n ? 16 : 12
  const now = performance.now()
  const rows = []
  let complete = true
  for (let r = 0; r < props.rows; r++) {
    const base = props.top + BigInt(r * ROW_BYTES)
    if (base >= props.size) break
    const cells = []
    const chars = []
    for (let i = 0; i < ROW_BYTES; i++) {
      const addr = base + BigInt(i)
      const b = props.pages.byte(addr)
      if (b === undefined) complete = false
      const changed = (props.pages.changedAt.get(addr) ?? -Infinity) > now - CHANGE_GLOW_MS
      const selected = props.selection !== undefined && addr >= props.selection[0] && addr <= props.selection[1]
      const cls = `${b === null ? 'un' : b === 0 ? 'z' : ''}${addr === props.cursor ? ' cur' : ''}${selected ? ' sel' : ''}${changed ? ' chg' : ''}${i === 8 ? ' mid' : props.group > 1 && i % props.group === 0 ? ' gap' : ''}`
      cells.push(<span key={i} class={`b ${cls}`} data-a={i}>{b === undefined ? '  ' : b === null ? '??' : b.toString(16).padStart(2, '0')}</span>)
      chars.push(<span key={i} class={`c ${cls}`} data-a={i}>{b === undefined ? ' ' : b === null ? '·' : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'}</span>)
    }
    const pick = (e: MouseEvent): void => {
      const target = e.target instanceof HTMLElement ? e.target.dataset['a'] : undefined
      if (target !== undefined) props.onPick(base + BigInt(Number(target)), e.shiftKey)
    }
    rows.push(
      <div class="row" key={r} onMouseDown={pick}>
        <span class="addr">{base.toString(16).padStart(digits, '0')}</span>
        <span class="bytes">{cells}</span>
        <span class="ascii">{chars}</span>
      </div>,
    )
  }
  // data-top and data-complete let tests and the bench see when a screen is filled.
  return <div class="hex-grid" data-top={props.top.toString(16)} data-complete={String(complete)}>{rows}</div>
}
