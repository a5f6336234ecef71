/**
 * The register sets the stub offers gdb (qXfer:features:read:target.xml),
 * one per guest architecture, numbered in slot order: gdb's 'g' packet and
 * 'p' numbers follow it, so nothing depends on gdb's built-in numbering.
 *
 *   x86_64   general registers, selectors, x87 and SSE (FXSAVE), orig_rax, FS/GS base;
 *            with AVX (ymm0h..ymm15h from the XSAVE area) when the threads have one
 *   aarch64  aarch64-target.ts: x0..x30, sp, pc, cpsr, V0..V31, fpsr, fpcr, tpidr
 */
import { MemweaveError } from '../../errors/index.js'
import { AARCH64_TARGET } from './aarch64-target.js'

export interface RegisterSlot {
  readonly name: string
  readonly bytes: number
  /** Where the value comes from: a name in registers.json's registers, or bytes of one of its hex areas (fxsave, xsave, fpsimd). */
  readonly from: { readonly json: string } | { readonly area: string; readonly at: number; readonly bytes: number }
}

export interface TargetDescription {
  /** The `arch` of the process info and of registers.json. */
  readonly arch: string
  readonly slots: readonly RegisterSlot[]
  readonly xml: string
}

const GPRS = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip']
const SELECTORS = ['eflags', 'cs', 'ss', 'ds', 'es', 'fs', 'gs']
/** x87 control words in FXSAVE (offset, bytes): fctrl fstat ftag fiseg fioff foseg fooff fop. */
const X87_CONTROL: readonly (readonly [string, number, number])[] = [
  ['fctrl', 0, 2], ['fstat', 2, 2], ['ftag', 4, 1], ['fiseg', 12, 2], ['fioff', 8, 4], ['foseg', 20, 2], ['fooff', 16, 4], ['fop', 6, 2],
]

const X86_SLOTS: readonly RegisterSlot[] = [
  ...GPRS.map((name) => ({ name, bytes: 8, from: { json: name } })),
  ...SELECTORS.map((name) => ({ name, bytes: 4, from: { json: name } })),
  ...Array.from({ length: 8 }, (_, i) => ({ name: `st${i}`, bytes: 10, from: { area: 'fxsave', at: 32 + i * 16, bytes: 10 } })),
  ...X87_CONTROL.map(([name, offset, bytes]) => ({ name, bytes: 4, from: { area: 'fxsave', at: offset, bytes } })),
  ...Array.from({ length: 16 }, (_, i) => ({ name: `xmm${i}`, bytes: 16, from: { area: 'fxsave', at: 160 + i * 16, bytes: 16 } })),
  { name: 'mxcsr', bytes: 4, from: { area: 'fxsave', at: 24, bytes: 4 } },
  { name: 'orig_rax', bytes: 8, from: { json: 'orig_rax' } },
  { name: 'fs_base', bytes: 8, from: { json: 'fs_base' } },
  { name: 'gs_base', bytes: 8, from: { json: 'gs_base' } },
]

/** The upper halves of ymm0..15 in the standard XSAVE format (feature 2 at byte 576). */
const AVX_SLOTS: readonly RegisterSlot[] = Array.from({ length: 16 }, (_, i) => ({ name: `ymm${i}h`, bytes: 16, from: { area: 'xsave', at: 576 + i * 16, bytes: 16 } }))

function x86Reg(slot: RegisterSlot, number: number): string {
  const type = slot.name === 'rip' ? 'code_ptr' : slot.name === 'rbp' || slot.name === 'rsp' ? 'data_ptr'
    : slot.name.startsWith('st') && slot.bytes === 10 ? 'i387_ext' : slot.name.startsWith('xmm') || slot.name.startsWith('ymm') ? 'uint128' : `int${slot.bytes * 8}`
  const group = slot.name.startsWith('xmm') || slot.name === 'mxcsr' ? ' group="vector"' : slot.name.startsWith('f') && number >= 24 && number < 40 ? ' group="float"' : ''
  return `<reg name="${slot.name}" bitsize="${slot.bytes * 8}" type="${type}" regnum="${number}"${group}/>`
}

function x86Feature(name: string, slots: readonly RegisterSlot[], first: number): string {
  return `<feature name="${name}">${slots.map((s, i) => x86Reg(s, first + i)).join('')}</feature>`
}

function x86Xml(avx: boolean): string {
  const at = (name: string): number => X86_SLOTS.findIndex((s) => s.name === name)
  return '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">'
    + '<architecture>i386:x86-64</architecture><osabi>GNU/Linux</osabi>'
    + x86Feature('org.gnu.gdb.i386.core', X86_SLOTS.slice(0, at('xmm0')), 0)
    + x86Feature('org.gnu.gdb.i386.sse', X86_SLOTS.slice(at('xmm0'), at('orig_rax')), at('xmm0'))
    + x86Feature('org.gnu.gdb.i386.linux', X86_SLOTS.slice(at('orig_rax'), at('fs_base')), at('orig_rax'))
    + x86Feature('org.gnu.gdb.i386.segments', X86_SLOTS.slice(at('fs_base')), at('fs_base'))
    + (avx ? x86Feature('org.gnu.gdb.i386.avx', AVX_SLOTS, X86_SLOTS.length) : '')
    + '</target>'
}

export const X86_64_TARGET: TargetDescription = { arch: 'x86_64', slots: X86_SLOTS, xml: x86Xml(false) }
/** x86-64 with AVX: for processes whose threads carry an XSAVE area (registers.json `xsave`). */
export const X86_64_AVX_TARGET: TargetDescription = { arch: 'x86_64', slots: [...X86_SLOTS, ...AVX_SLOTS], xml: x86Xml(true) }

const TARGETS: readonly TargetDescription[] = [X86_64_TARGET, AARCH64_TARGET]

/** The description for a process's arch (its info's `arch`); x86-64 with AVX when its threads have an XSAVE area. */
export function targetFor(arch: string, xsave = false): TargetDescription {
  const name = arch === 'amd64' || arch === 'x86-64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch
  const found = TARGETS.find((t) => t.arch === name)
  if (found === undefined) throw new MemweaveError('cli', 'unsupported', `gdbserver: no register description for arch '${arch}' (known: ${TARGETS.map((t) => t.arch).join(', ')})`)
  return found === X86_64_TARGET && xsave ? X86_64_AVX_TARGET : found
}
