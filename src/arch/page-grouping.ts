/**
 * Turns a batch's page numbers (one per address, repeats allowed) into the
 * distinct pages in ascending order plus, per input, its slot among them.
 * Ascending order is what lets the walker group shared table entries by
 * comparing neighbours. The fast path packs (linear page, input index) into
 * one exact double and sorts a Float64Array natively; when that would not be
 * exact (huge batches of high LA57 addresses) it falls back to a Map and a sort.
 */

export interface PageGroups {
  /** Distinct canonical page numbers, ascending. */
  readonly distinct: Float64Array
  /** Per input, the index of its page in `distinct` (-1 for skipped inputs). */
  readonly slotOf: Int32Array
}

const TWO_52 = 2 ** 52

/**
 * `vpns[i]` is a canonical page number (virt >> pageShift, below 2^52) or -1
 * to skip input i. `halfVpn` is the first page number past the lower half,
 * `topVpn` is 2^(64 - pageShift) (2^52 for 4 KiB pages).
 */
export function groupPages(vpns: Float64Array, halfVpn: number, topVpn = TWO_52): PageGroups {
  const n = vpns.length
  const slotOf = new Int32Array(n).fill(-1)
  let bits = 1
  while (2 ** bits < n) bits++
  const scale = 2 ** bits
  // Linear page numbers close the canonical hole: the top half follows the bottom one.
  const linearLimit = 2 * halfVpn
  const keys = new Float64Array(n)
  let count = 0
  let maxLinear = 0
  for (let i = 0; i < n; i++) {
    const vpn = vpns[i]!
    if (vpn < 0) continue
    const linear = vpn < halfVpn ? vpn : vpn - topVpn + linearLimit
    if (linear > maxLinear) maxLinear = linear
    keys[count++] = linear
  }
  if ((maxLinear + 1) * scale > 2 ** 53) return groupWithMap(vpns, slotOf)
  count = 0
  for (let i = 0; i < n; i++) if (vpns[i]! >= 0) { keys[count] = keys[count]! * scale + i; count++ }
  const sorted = keys.subarray(0, count).sort()
  const distinct: number[] = []
  let previous = -1
  for (let k = 0; k < count; k++) {
    const key = sorted[k]!
    const linear = Math.floor(key / scale)
    if (linear !== previous) { distinct.push(linear < halfVpn ? linear : linear + topVpn - linearLimit); previous = linear }
    slotOf[key - linear * scale] = distinct.length - 1
  }
  return { distinct: Float64Array.from(distinct), slotOf }
}

function groupWithMap(vpns: Float64Array, slotOf: Int32Array): PageGroups {
  const seen = new Map<number, number>()
  for (const vpn of vpns) if (vpn >= 0) seen.set(vpn, 0)
  const distinct = Float64Array.from(seen.keys()).sort()
  distinct.forEach((vpn, k) => seen.set(vpn, k))
  vpns.forEach((vpn, i) => { if (vpn >= 0) slotOf[i] = seen.get(vpn)! })
  return { distinct, slotOf }
}
