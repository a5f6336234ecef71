/** Formatting helpers: addresses, sizes, and parsing of addresses the user types. */
export function hex(value: bigint, width = 0): string {
  return `0x${value.toString(16).padStart(width, '0')}`
}

export function sizeText(bytes: bigint | undefined): string {
  if (bytes === undefined) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
  let value = Number(bytes)
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++ }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** A plain number: 0x-prefixed or bare hex (addresses are hex here), or decimal with a 'd' suffix. */
export function parseNumber(text: string): bigint | undefined {
  const t = text.trim().toLowerCase().replace(/_/g, '')
  if (/^0x[0-9a-f]+$/.test(t)) return BigInt(t)
  if (/^[0-9]+d$/.test(t)) return BigInt(t.slice(0, -1))
  if (/^[0-9a-f]+$/.test(t)) return BigInt(`0x${t}`)
  return undefined
}

/** A scalar from the daemon's JSON as text; anything else (an object where a scalar was expected) as JSON, never "[object Object]". */
export function scalarText(value: unknown): string {
  switch (typeof value) {
    case 'string': return value
    case 'number': case 'bigint': case 'boolean': return value.toString()
    case 'undefined': return ''
    default: return value === null ? '' : JSON.stringify(value) ?? ''
  }
}
