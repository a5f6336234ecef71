/**
 * gdb's view of an AArch64 Linux thread (features org.gnu.gdb.aarch64.core,
 * .fpu and .tls), numbered as gdb numbers them itself:
 *
 *   0..30 x0..x30   31 sp   32 pc   33 cpsr (pstate, 32 bits)
 *   34..65 v0..v31 (128 bits, from user_fpsimd_state)   66 fpsr   67 fpcr   68 tpidr
 */
import type { RegisterSlot, TargetDescription } from './target-description.js'

const SLOTS: readonly RegisterSlot[] = [
  ...Array.from({ length: 31 }, (_, i) => ({ name: `x${i}`, bytes: 8, from: { json: `x${i}` } })),
  { name: 'sp', bytes: 8, from: { json: 'sp' } },
  { name: 'pc', bytes: 8, from: { json: 'pc' } },
  { name: 'cpsr', bytes: 4, from: { json: 'pstate' } },
  ...Array.from({ length: 32 }, (_, i) => ({ name: `v${i}`, bytes: 16, from: { area: 'fpsimd', at: i * 16, bytes: 16 } })),
  { name: 'fpsr', bytes: 4, from: { area: 'fpsimd', at: 512, bytes: 4 } },
  { name: 'fpcr', bytes: 4, from: { area: 'fpsimd', at: 516, bytes: 4 } },
  { name: 'tpidr', bytes: 8, from: { json: 'tpidr_el0' } },
]

/** The V register type gdb itself uses: one 128-bit value seen as vectors of each lane width. */
const VECTOR_TYPES = '<vector id="v2d" type="ieee_double" count="2"/><vector id="v2u" type="uint64" count="2"/><vector id="v2i" type="int64" count="2"/>'
  + '<vector id="v4f" type="ieee_single" count="4"/><vector id="v4u" type="uint32" count="4"/><vector id="v4i" type="int32" count="4"/>'
  + '<vector id="v8u" type="uint16" count="8"/><vector id="v8i" type="int16" count="8"/>'
  + '<vector id="v16u" type="uint8" count="16"/><vector id="v16i" type="int8" count="16"/>'
  + '<vector id="v1u" type="uint128" count="1"/><vector id="v1i" type="int128" count="1"/>'
  + '<union id="vnd"><field name="f" type="v2d"/><field name="u" type="v2u"/><field name="s" type="v2i"/></union>'
  + '<union id="vns"><field name="f" type="v4f"/><field name="u" type="v4u"/><field name="s" type="v4i"/></union>'
  + '<union id="vnh"><field name="u" type="v8u"/><field name="s" type="v8i"/></union>'
  + '<union id="vnb"><field name="u" type="v16u"/><field name="s" type="v16i"/></union>'
  + '<union id="vnq"><field name="u" type="v1u"/><field name="s" type="v1i"/></union>'
  + '<union id="aarch64v"><field name="d" type="vnd"/><field name="s" type="vns"/><field name="h" type="vnh"/><field name="b" type="vnb"/><field name="q" type="vnq"/></union>'

function reg(slot: RegisterSlot, number: number): string {
  const type = slot.name === 'pc' ? 'code_ptr' : slot.name === 'sp' || slot.name === 'tpidr' ? 'data_ptr'
    : slot.name.startsWith('v') ? 'aarch64v' : `int${slot.bytes * 8}`
  const group = slot.name.startsWith('v') ? ' group="vector"' : ''
  return `<reg name="${slot.name}" bitsize="${slot.bytes * 8}" type="${type}" regnum="${number}"${group}/>`
}

function xml(): string {
  const at = (name: string): number => SLOTS.findIndex((s) => s.name === name)
  const feature = (name: string, from: number, to: number, types = ''): string =>
    `<feature name="${name}">${types}${SLOTS.slice(from, to).map((s, i) => reg(s, from + i)).join('')}</feature>`
  return '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">'
    + '<architecture>aarch64</architecture><osabi>GNU/Linux</osabi>'
    + feature('org.gnu.gdb.aarch64.core', 0, at('v0'))
    + feature('org.gnu.gdb.aarch64.fpu', at('v0'), at('tpidr'), VECTOR_TYPES)
    + feature('org.gnu.gdb.aarch64.tls', at('tpidr'), SLOTS.length)
    + '</target>'
}

export const AARCH64_TARGET: TargetDescription = { arch: 'aarch64', slots: SLOTS, xml: xml() }
