/**
 * The register set the stub offers gdb (qXfer:features:read:target.xml):
 * x86-64 general registers, selectors, x87 and SSE state, orig_rax and the
 * FS/GS bases, numbered in this order. gdb's 'g' packet and 'p' numbers
 * follow it, so nothing depends on gdb's built-in numbering.
 */

export interface RegisterSlot {
  readonly name: string
  readonly bytes: number
  /** Where the value comes from: a name in registers.json, or an FXSAVE byte offset. */
  readonly from: { readonly json: string } | { readonly fxsave: number; readonly bytes: number }
}

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip']
const SELECTORS = ['eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']
/** x87 control words in FXSAVE (offset, bytes): fctrl fstat ftag fiseg fioff foseg fooff fop. */
const X87_CONTROL: readonly (readonly [string, number, number])[] = [
  ['fctrl', 0, 2], ['fstat', 2, 2], ['ftag', 4, 1], ['fiseg', 12, 2], ['fioff', 8, 4], ['foseg', 20, 2], ['fooff', 16, 4], ['fop', 6, 2],
]

export const REGISTER_SLOTS: readonly RegisterSlot[] = [
  ...GPRS.map((name) => ({ name, bytes: 8, from: { json: name } })),
  ...SELECTORS.map((name) => ({ name, bytes: 4, from: { json: name } })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bytes: 10, from: { fxsave: 32 + i * 16, bytes: 10 } })),
  ...X87_CONTROL.map(([name, offset, bytes]) => ({ name, bytes: 4, from: { fxsave: offset, bytes } })),
  ...Array.from({ length: 16 }, (_, i) => ({ name: `xmm${i}`, bytes: 16, from: { fxsave: 160 + i * 16, bytes: 16 } })),
  { name: 'mxcsr', bytes: 4, from: { fxsave: 24, bytes: 4 } },
  { name: 'orig_rax', bytes: 8, from: { json: 'orig_rax' } },
  { name: 'fs_base', bytes: 8, from: { json: 'fs_base' } },
  { name: 'gs_base', bytes: 8, from: { json: 'gs_base' } },
]

function reg(slot: RegisterSlot, number: number): string {
  const type = slot.name === 'rip' ? 'code_ptr' : slot.name === 'rbp' || slot.name === 'rsp' ? 'data_ptr'
    : slot.name.startsWith('st') && slot.bytes === 10 ? 'i387_ext' : slot.name.startsWith('xmm') ? 'uint128' : `int${slot.bytes * 8}`
  const group = slot.name.startsWith('xmm') || slot.name === 'mxcsr' ? ' group="vector"' : slot.name.startsWith('f') && number >= 24 && number < 40 ? ' group="float"' : ''
  return `<reg name="${slot.name}" bitsize="${slot.bytes * 8}" type="${type}" regnum="${number}"${group}/>`
}

function feature(name: string, slots: readonly RegisterSlot[], first: number): string {
  return `<feature name="${name}">${slots.map((s, i) => reg(s, first + i)).join('')}</feature>`
}

export function targetXml(): string {
  const at = (name: string): number => REGISTER_SLOTS.findIndex((s) => s.name === name)
  const core = REGISTER_SLOTS.slice(0, at('xmm0'))
  const sse = REGISTER_SLOTS.slice(at('xmm0'), at('orig_rax'))
  return '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">'
    + '<architecture>i386:x86-64</architecture><osabi>GNU/Linux</osabi>'
    + feature('org.gnu.gdb.i386.core', core, 0)
    + feature('org.gnu.gdb.i386.sse', sse, at('xmm0'))
    + feature('org.gnu.gdb.i386.linux', [REGISTER_SLOTS[at('orig_rax')] ?? { name: 'orig_rax', bytes: 8, from: { json: 'orig_rax' } }], at('orig_rax'))
    + feature('org.gnu.gdb.i386.segments', REGISTER_SLOTS.slice(at('fs_base')), at('fs_base'))
    + '</target>'
}
