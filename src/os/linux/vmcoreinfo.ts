/**
 * VMCOREINFO text (a kdump/QEMU note): KEY=VALUE lines such as OSRELEASE,
 * PAGESIZE, SYMBOL(name)=hex, NUMBER(name)=decimal, OFFSET(s.f)=decimal and
 * KERNELOFFSET=hex. Used as hints and cross-checks only; the guest's own
 * kallsyms and BTF stay the source of truth.
 */

export interface Vmcoreinfo {
  readonly osRelease: string | undefined
  readonly pageSizeBytes: number | undefined
  /** KASLR slide of the kernel text (KERNELOFFSET). */
  readonly kernelOffset: bigint | undefined
  readonly symbols: ReadonlyMap<string, bigint>
  readonly numbers: ReadonlyMap<string, bigint>
  readonly raw: ReadonlyMap<string, string>
}

const KEYED = /^(SYMBOL|NUMBER|OFFSET|SIZE|LENGTH)\((.+)\)$/

/** Parses the note text; unknown or malformed lines are kept raw or skipped (the note is advisory). */
export function parseVmcoreinfo(text: string): Vmcoreinfo {
  const raw = new Map<string, string>()
  const symbols = new Map<string, bigint>()
  const numbers = new Map<string, bigint>()
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const key = line.slice(0, eq).trim()
    const value = line.slice(eq + 1).trim()
    raw.set(key, value)
    const keyed = KEYED.exec(key)
    if (keyed === null) continue
    const [, group, name] = keyed
    if (name === undefined) continue
    if (group === 'SYMBOL' && /^[0-9a-f]+$/i.test(value)) symbols.set(name, BigInt(`0x${value}`))
    if (group === 'NUMBER' && /^-?\d+$/.test(value)) numbers.set(name, BigInt(value))
  }
  const offset = raw.get('KERNELOFFSET')
  const page = raw.get('PAGESIZE')
  return {
    osRelease: raw.get('OSRELEASE'),
    pageSizeBytes: page !== undefined && /^\d+$/.test(page) ? Number(page) : undefined,
    kernelOffset: offset !== undefined && /^[0-9a-f]+$/i.test(offset) ? BigInt(`0x${offset}`) : undefined,
    symbols,
    numbers,
    raw,
  }
}
