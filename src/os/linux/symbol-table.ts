/**
 * Kernel symbols by name: filled from the guest's kallsyms tables found in
 * memory, or from a System.map / /proc/kallsyms text file. Lookups return
 * the first symbol of a name (static functions may repeat a name).
 */
import { MemweaveError } from '../../errors/index.js'
import { hex } from '../../mem/index.js'

export interface KernelSymbol {
  readonly name: string
  readonly addr: bigint
  /** nm-style type letter (T, t, D, d, R, r, B, b, A, …). */
  readonly type: string
}

export class SymbolTable {
  private readonly byName = new Map<string, KernelSymbol>()
  private readonly ordered: KernelSymbol[] = []

  constructor(readonly source: string) {}

  add(symbol: KernelSymbol): void {
    this.ordered.push(symbol)
    if (!this.byName.has(symbol.name)) this.byName.set(symbol.name, symbol)
  }

  get size(): number {
    return this.ordered.length
  }

  /** The i-th symbol in table order (for kallsyms: /proc/kallsyms order, sorted by address). */
  at(index: number): KernelSymbol | undefined {
    return this.ordered[index]
  }

  get(name: string): KernelSymbol | undefined {
    return this.byName.get(name)
  }

  has(name: string): boolean {
    return this.byName.has(name)
  }

  /** Address of a symbol the caller cannot do without; a clear error names it and the source. */
  addr(name: string): bigint {
    const symbol = this.byName.get(name)
    if (symbol === undefined) throw new MemweaveError('os', 'not_found', `kernel symbol '${name}' not found in ${this.source}`)
    return symbol.addr
  }

  /** Address or undefined, for optional features. */
  maybe(name: string): bigint | undefined {
    return this.byName.get(name)?.addr
  }

  /** Every symbol, duplicates of a name included, in table order. */
  all(): readonly KernelSymbol[] {
    return this.ordered
  }
}

/** Kernel image addresses (the part KASLR slides): __START_KERNEL_map up to the module area. */
export const KERNEL_IMAGE_START = 0xffffffff80000000n
export const KERNEL_IMAGE_END = 0xffffffffc0000000n

const LINE = /^([0-9a-fA-F]{1,16})\s+([A-Za-z?])\s+(\S+)(?:\s+\[(\S+)\])?\s*$/

/**
 * Parses "ADDR TYPE NAME [module]" lines (System.map or /proc/kallsyms).
 * Module symbols are skipped. Image addresses are moved by the slide that
 * puts the file's `_text` on `kernelBase`: zero for a /proc/kallsyms of the
 * same boot, the KASLR offset for a System.map.
 */
export function parseSymbolFile(text: string, path: string, kernelBase: bigint): SymbolTable {
  const parsed: KernelSymbol[] = []
  let lineNumber = 0
  for (const line of text.split('\n')) {
    lineNumber++
    if (line.trim() === '') continue
    const match = LINE.exec(line)
    if (match === null) throw new MemweaveError('os', 'malformed', `${path}:${lineNumber}: not an "address type name" line`)
    const [, addr, type, name, module] = match
    if (addr === undefined || type === undefined || name === undefined || module !== undefined) continue
    parsed.push({ addr: BigInt(`0x${addr}`), type, name })
  }
  const text0 = parsed.find((s) => s.name === '_text') ?? parsed.find((s) => s.name === '_stext')
  if (text0 === undefined) throw new MemweaveError('os', 'malformed', `${path}: no _text or _stext symbol (is it a System.map or /proc/kallsyms?)`)
  if (text0.addr === 0n) throw new MemweaveError('os', 'malformed', `${path}: addresses are all zero (a /proc/kallsyms read without privilege?)`)
  const slide = kernelBase - text0.addr
  const table = new SymbolTable(`symbols file ${path} (slide ${slide < 0n ? '-' : ''}${hex(slide < 0n ? -slide : slide)})`)
  for (const symbol of parsed) {
    const inImage = symbol.addr >= KERNEL_IMAGE_START && symbol.addr < KERNEL_IMAGE_END
    table.add(inImage ? { ...symbol, addr: symbol.addr + slide } : symbol)
  }
  return table
}
