/**
 * The data inspector: the bytes at the cursor as integers, floats, a
 * pointer (with the mapping it points into, and a "follow" link) and a
 * string; little or big endian. Bytes not mapped show nothing, not zeros.
 */
import type { HexPages } from '../hex-pages.js'
import { describeAddress, regionAt } from '../memory-map.js'
import type { Region } from '../memory-map.js'

export function Inspector(props: { pages: HexPages; cursor: bigint; littleEndian: boolean; regions: readonly Region[]; onFollow: (addr: bigint) => void }) {
  const bytes: number[] = []
  for (let i = 0n; i < 8n; i++) {
    const b = props.pages.byte(props.cursor + i)
    if (typeof b !== 'number') break
    bytes.push(b)
  }
  const view = new DataView(new Uint8Array(8).buffer)
  bytes.forEach((b, i) => view.setUint8(i, b))
  const le = props.littleEndian
  const has = (n: number): boolean => bytes.length >= n
  const pointer = has(8) ? view.getBigUint64(0, le) : undefined
  const target = pointer === undefined ? undefined : regionAt(props.regions, pointer)
  const rows: Array<[string, string]> = [
    ['u8 / i8', has(1) ? `${view.getUint8(0)} / ${view.getInt8(0)}` : '??'],
    ['u16 / i16', has(2) ? `${view.getUint16(0, le)} / ${view.getInt16(0, le)}` : '??'],
    ['u32 / i32', has(4) ? `${view.getUint32(0, le)} / ${view.getInt32(0, le)}` : '??'],
    ['u64', has(8) ? view.getBigUint64(0, le).toString() : '??'],
    ['i64', has(8) ? view.getBigInt64(0, le).toString() : '??'],
    ['f32', has(4) ? String(view.getFloat32(0, le)) : '??'],
    ['f64', has(8) ? String(view.getFloat64(0, le)) : '??'],
    ['string', stringAt(props.pages, props.cursor)],
  ]
  return (
    <div class="inspector">
      <h3>At {describeAddress(props.cursor, props.regions)}</h3>
      <table class="kv">
        <tbody>
          {rows.map(([name, value]) => <tr key={name}><th>{name}</th><td class="mono">{value}</td></tr>)}
          <tr>
            <th>pointer</th>
            <td class="mono">
              {pointer === undefined ? '??' : `0x${pointer.toString(16)}`}
              {target === undefined ? null : <> <span class="dim">→ {describeAddress(pointer ?? 0n, props.regions)}</span> <button class="small" onClick={() => props.onFollow(pointer ?? 0n)}>follow</button></>}
            </td>
          </tr>
        </tbody>
      </table>
    </div>
  )
}

/** Printable ASCII from addr up to a NUL or 64 bytes. */
function stringAt(pages: HexPages, addr: bigint): string {
  let out = ''
  for (let i = 0n; i < 64n; i++) {
    const b = pages.byte(addr + i)
    if (typeof b !== 'number' || b === 0) break
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'
  }
  return out === '' ? '—' : JSON.stringify(out)
}
