/**
 * What commands print: plain lines and borderless tables for people, JSON
 * for --json, raw bytes for cat/read. A raw write resolves once the stream
 * is done with the bytes, so a slow reader does not make us buffer a whole
 * dump, and the caller can reuse its buffer.
 */
import { createRequire } from 'node:module'
import type Table from 'cli-table3'

/** cli-table3 (CommonJS) is required when the first table is printed: most commands print none, and it loads fifteen modules. */
const require = createRequire(import.meta.url)

export interface Sink {
  write(chunk: string | Uint8Array, done?: (err?: Error | null) => void): boolean
  once(event: 'drain', listener: () => void): unknown
}

/** JSON cannot hold bigints or bytes: big values become hex strings, bytes hex text. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value > 0xffffffffn || value < 0n ? `0x${value.toString(16)}` : Number(value)
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (value instanceof Map) return Object.fromEntries(value)
  return value
}

/** A table cell for a JSON value: a string as it is, another primitive through String, an object as JSON; absent (undefined, null) as `absent`. */
export function cellText(value: unknown, absent = ''): string {
  switch (typeof value) {
    case 'string': return value
    case 'number': case 'bigint': case 'boolean': return String(value)
    case 'object': return value === null ? absent : JSON.stringify(value, jsonReplacer)
    default: return absent
  }
}

export class Output {
  constructor(readonly json: boolean, private readonly sink: Sink = process.stdout) {}

  line(text = ''): void {
    this.sink.write(`${text}\n`)
  }

  jsonValue(value: unknown): void {
    this.sink.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`)
  }

  /** A borderless table: column heads, then rows of cells (just the heads when there are no rows). */
  table(head: readonly string[], rows: readonly (readonly string[])[]): void {
    const TableClass = require('cli-table3') as typeof Table
    const table = new TableClass({
      head: [...head],
      chars: {
        top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
        'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
      },
      style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
    })
    for (const row of rows) table.push([...row])
    // cli-table3 pads the last column too; trailing spaces only get in the way of grep and diff.
    this.line(table.toString().split('\n').map((l) => l.trimEnd()).join('\n'))
  }

  /** Resolves once the stream is done with `bytes` (the caller may reuse them then). */
  async raw(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return
    await new Promise<void>((resolve) => {
      // A failed write (EPIPE: the reader went away) is the stream's 'error' event, which main.ts handles.
      this.sink.write(bytes, () => resolve())
    })
  }
}
