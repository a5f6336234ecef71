/**
 * A scrollbar for address spaces far too big for a real one (2^48, 2^64):
 * the track is the whole space, the thumb the screen's place in it, and a
 * minimap marks the mapped regions (each at least a few pixels, so a 4 KiB
 * mapping in 256 TiB is still visible). Click or drag to seek.
 */
import { useRef } from 'preact/hooks'
import type { Region } from '../memory-map.js'

const SCALE = 1_000_000n

function fraction(addr: bigint, size: bigint): number {
  return size === 0n ? 0 : Number((addr * SCALE) / size) / Number(SCALE)
}

export function HexScrollbar(props: { top: bigint; size: bigint; screen: bigint; regions: readonly Region[]; onSeek: (addr: bigint) => void }) {
  const track = useRef<HTMLDivElement>(null)
  const seek = (clientY: number): void => {
    const rect = track.current?.getBoundingClientRect()
    if (rect === undefined || rect.height === 0) return
    const f = Math.min(1, Math.max(0, (clientY - rect.top) / rect.height))
    props.onSeek((props.size * BigInt(Math.round(f * Number(SCALE)))) / SCALE)
  }
  const onDown = (e: PointerEvent): void => {
    e.preventDefault()
    const el = track.current
    if (el === null) return
    el.setPointerCapture(e.pointerId)
    seek(e.clientY)
    const onMove = (m: PointerEvent): void => seek(m.clientY)
    const onUp = (): void => { el.removeEventListener('pointermove', onMove); el.removeEventListener('pointerup', onUp) }
    el.addEventListener('pointermove', onMove)
    el.addEventListener('pointerup', onUp)
  }
  return (
    <div class="hex-scroll" ref={track} onPointerDown={onDown} title={`address space of ${props.size.toString(16)} (hex) bytes`}>
      {props.regions.map((r) => (
        <div key={`${r.start}`} class={`mark ${r.perms.includes('x') ? 'x' : r.perms.includes('w') ? 'w' : 'r'}`}
          style={{ top: `${fraction(r.start, props.size) * 100}%`, height: `max(3px, ${fraction(r.end - r.start, props.size) * 100}%)` }}
          title={`${r.start.toString(16)}-${r.end.toString(16)} ${r.path}`} />
      ))}
      <div class="thumb" style={{ top: `${fraction(props.top, props.size) * 100}%`, height: `max(6px, ${fraction(props.screen, props.size) * 100}%)` }} />
    </div>
  )
}
