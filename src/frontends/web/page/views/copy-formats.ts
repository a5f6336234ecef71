/** The selection as text: hex bytes, a C array, or base64. Unmapped or unread bytes refuse the copy (never made zeros). */
import type { HexPages } from '../hex-pages.js'

const MAX_COPY_BYTES = 1 << 20

export function copySelection(pages: HexPages, from: bigint, to: bigint, format: 'hex' | 'c' | 'base64'): { ok: true; text: string } | { ok: false; reason: string } {
  const count = to - from + 1n
  if (count > BigInt(MAX_COPY_BYTES)) return { ok: false, reason: 'select at most 1 MiB to copy' }
  const bytes = new Uint8Array(Number(count))
  for (let i = 0; i < bytes.length; i++) {
    const b = pages.byte(from + BigInt(i))
    if (typeof b !== 'number') return { ok: false, reason: `byte at 0x${(from + BigInt(i)).toString(16)} is ${b === null ? 'unmapped' : 'not read yet'}: nothing copied` }
    bytes[i] = b
  }
  const hexBytes = [...bytes].map((b) => b.toString(16).padStart(2, '0'))
  if (format === 'hex') return { ok: true, text: hexBytes.join(' ') }
  if (format === 'c') {
    const lines = []
    for (let i = 0; i < hexBytes.length; i += 12) lines.push(`  ${hexBytes.slice(i, i + 12).map((h) => `0x${h}`).join(', ')},`)
    return { ok: true, text: `unsigned char data_${from.toString(16)}[${bytes.length}] = {\n${lines.join('\n')}\n};\n` }
  }
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return { ok: true, text: btoa(binary) }
}
