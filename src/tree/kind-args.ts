/**
 * Arguments for connector and OS kinds, in memflow's form: an optional
 * positional target, then key=value pairs, separated by commas
 * ("/data/vm.elf,strict=true", "name=web1"). A comma inside a value is written '\,'.
 */
import { MemweaveError, quote } from '../errors/index.js'

export interface KindArgs {
  readonly target: string | undefined
  readonly options: ReadonlyMap<string, string>
  /** The text as given, for info leaves. */
  readonly raw: string
}

const KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/

export function parseKindArgs(raw: string): KindArgs {
  const parts = splitUnescaped(raw)
  let target: string | undefined
  const options = new Map<string, string>()
  parts.forEach((part, index) => {
    if (part.length === 0) {
      if (raw.length === 0) return
      throw new MemweaveError('tree', 'invalid_argument', `empty argument in ${quote(raw)}`)
    }
    const eq = part.indexOf('=')
    const key = eq < 0 ? '' : part.slice(0, eq)
    if (eq < 0 || !KEY_PATTERN.test(key)) {
      if (index !== 0) throw new MemweaveError('tree', 'invalid_argument', `argument ${quote(part)} in ${quote(raw)} must be key=value (only the first may be a bare target)`)
      target = part
      return
    }
    if (options.has(key)) throw new MemweaveError('tree', 'invalid_argument', `argument ${quote(key)} given twice in ${quote(raw)}`)
    options.set(key, part.slice(eq + 1))
  })
  return { target, options, raw }
}

function splitUnescaped(raw: string): string[] {
  const out: string[] = []
  let current = ''
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]
    if (ch === '\\' && raw[i + 1] === ',') { current += ','; i++; continue }
    if (ch === ',') { out.push(current); current = ''; continue }
    current += ch
  }
  out.push(current)
  return out
}

/** Typed access with clear errors; `known` lists accepted keys so typos are refused. */
export class ArgReader {
  constructor(private readonly args: KindArgs, private readonly what: string, known: readonly string[]) {
    for (const key of args.options.keys()) {
      if (!known.includes(key)) {
        throw new MemweaveError('tree', 'invalid_argument', `${what}: unknown argument ${quote(key)} (known: ${known.join(', ') || 'none'})`)
      }
    }
  }

  get target(): string | undefined {
    return this.args.target
  }

  string(key: string): string | undefined {
    return this.args.options.get(key)
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.args.options.get(key)
    if (value === undefined) return fallback
    if (['true', '1', 'yes', 'on', ''].includes(value)) return true
    if (['false', '0', 'no', 'off'].includes(value)) return false
    throw new MemweaveError('tree', 'invalid_argument', `${this.what}: argument '${key}' must be true or false, not ${quote(value)}`)
  }

  int(key: string): number | undefined {
    const value = this.args.options.get(key)
    if (value === undefined) return undefined
    const n = /^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n)) throw new MemweaveError('tree', 'invalid_argument', `${this.what}: argument '${key}' must be an integer, not ${quote(value)}`)
    return n
  }

  bigint(key: string): bigint | undefined {
    const value = this.args.options.get(key)
    if (value === undefined) return undefined
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(value)) throw new MemweaveError('tree', 'invalid_argument', `${this.what}: argument '${key}' must be an integer, not ${quote(value)}`)
    return BigInt(value)
  }
}
