/**
 * Lines written to the control leaves:
 *   connector/new, os/new:  NAME [-c ON] KIND[:ARGS]
 *   connector/rm,  os/rm:   NAME [-f|--force]
 * Names are single path segments: no '/', no '.', not 'new' or 'rm'.
 * ON is the OS a connector is created in, or the connector an OS opens; it
 * may contain dots (a remote object: 'b.dump'). Its flag keeps the old word,
 * '-c' or '--chain' (user syntax, unchanged); in code it is `on`, since
 * "chain" names a remote handle's forwarding chain.
 */
import { MemweaveError, quote } from '../errors/index.js'
import { parseKindArgs } from './kind-args.js'
import type { KindArgs } from './kind-args.js'

export interface CreateLine {
  readonly name: string
  readonly on: string | undefined
  readonly kind: string
  readonly args: KindArgs
}

export interface RemoveLine {
  readonly name: string
  readonly force: boolean
}

const RESERVED = new Set(['new', 'rm'])
const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_@+-]*$/
const KIND_PATTERN = /^[a-z][a-z0-9_-]*$/
export const MAX_NAME_LENGTH = 64

export function validateName(name: string, what = 'name'): string {
  if (name.length === 0) throw new MemweaveError('tree', 'invalid_argument', `${what} is empty`)
  if (name.length > MAX_NAME_LENGTH) throw new MemweaveError('tree', 'invalid_argument', `${what} ${quote(name, 20)} is longer than ${MAX_NAME_LENGTH} characters`)
  if (name.includes('/')) throw new MemweaveError('tree', 'invalid_argument', `${what} ${quote(name)} must not contain '/'`)
  if (name.includes('.')) throw new MemweaveError('tree', 'invalid_argument', `${what} ${quote(name)} must not contain '.' (dots separate remote nodes)`)
  if (RESERVED.has(name)) throw new MemweaveError('tree', 'invalid_argument', `${what} ${quote(name)} is reserved`)
  if (!NAME_PATTERN.test(name)) throw new MemweaveError('tree', 'invalid_argument', `${what} ${quote(name)} may only hold letters, digits, '_', '-', '+', '@'`)
  return name
}

/** Splits on whitespace; double quotes (anywhere in a word) keep spaces, e.g. file:"/my dump.raw". */
function words(line: string): string[] {
  const out: string[] = []
  let current: string | undefined
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] ?? ''
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) current += line[++i] ?? ''
      else if (ch === '"') quoted = false
      else current += ch
    } else if (ch === '"') {
      quoted = true
      current ??= ''
    } else if (/\s/.test(ch)) {
      if (current !== undefined) out.push(current)
      current = undefined
    } else {
      current = (current ?? '') + ch
    }
  }
  if (quoted) throw new MemweaveError('tree', 'invalid_argument', `unterminated quote in ${quote(line)}`)
  if (current !== undefined) out.push(current)
  return out
}

export function parseCreateLine(line: string): CreateLine {
  const parts = words(line.trim())
  const usage = "expected 'NAME [-c ON] KIND[:ARGS]'"
  if (parts.length === 0) throw new MemweaveError('tree', 'invalid_argument', `empty line: ${usage}`)
  const name = validateName(parts[0] ?? '')
  let on: string | undefined
  let index = 1
  if (parts[index] === '-c' || parts[index] === '--chain') {
    on = parts[index + 1]
    if (on === undefined || on.length === 0) throw new MemweaveError('tree', 'invalid_argument', `'-c' needs a name: ${usage}`)
    for (const segment of on.split('.')) validateName(segment, `chain target ${quote(on)}`)
    index += 2
  }
  const spec = parts[index]
  if (spec === undefined) throw new MemweaveError('tree', 'invalid_argument', `missing KIND in ${quote(line.trim())}: ${usage}`)
  if (parts.length > index + 1) throw new MemweaveError('tree', 'invalid_argument', `unexpected ${quote(parts.slice(index + 1).join(' '))} in ${quote(line.trim())}: ${usage}`)
  const colon = spec.indexOf(':')
  const kind = colon < 0 ? spec : spec.slice(0, colon)
  if (!KIND_PATTERN.test(kind)) throw new MemweaveError('tree', 'invalid_argument', `kind ${quote(kind)} is not a valid kind name`)
  return { name, on, kind, args: parseKindArgs(colon < 0 ? '' : spec.slice(colon + 1)) }
}

export function parseRemoveLine(line: string): RemoveLine {
  const parts = words(line.trim())
  const force = parts.some((p) => p === '-f' || p === '--force')
  const rest = parts.filter((p) => p !== '-f' && p !== '--force')
  if (rest.length !== 1) throw new MemweaveError('tree', 'invalid_argument', `expected 'NAME [-f]', got ${quote(line.trim())}`)
  return { name: validateName(rest[0] ?? ''), force }
}
