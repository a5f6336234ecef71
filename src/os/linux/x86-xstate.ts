/**
 * The XSAVE area of x86-64 threads as a core file's NT_X86_XSTATE carries it
 * (what the kernel's xstateregs_get gives a debugger):
 *
 *   fpu_user_cfg (BTF struct fpu_state_config)  max_size: the note's size; max_features: XCR0 for user space
 *   fpu_kernel_cfg.default_size                 how much of each thread's buffer to read
 *   xstate_offsets[], xstate_sizes[],           per feature (enum xfeature): its offset in the
 *   xstate_flags[] (kernel arrays)              standard format, size, 64-byte alignment when compacted
 *   fpstate->regs                               the thread's xregs_state: FXSAVE area, header
 *                                               (xfeatures, xcomp_bv), then the features
 *
 * The kernel may keep the buffer compacted (XSAVES/XSAVEC, xcomp_bv bit 63);
 * the note is always in the standard format: the legacy area, XCR0 in bytes
 * 464..471, a header with xcomp_bv 0, and each feature the thread has
 * written at its standard offset (features in their init state stay zero).
 * A kernel without XSAVE (TCG's qemu64 CPU) has no extended features: no note.
 */
import type { KernelContext } from './kernel-context.js'
import { readExact, virtAddr } from '../../mem/index.js'

const FXSAVE_BYTES = 512
const HEADER_OFFSET = 512
const HEADER_BYTES = 64
const EXTENDED_START = FXSAVE_BYTES + HEADER_BYTES
/** struct user_xstateregs: bytes 464..471 of the legacy area hold XCR0 (USER_XSTATE_XCR0_WORD). */
const XCR0_OFFSET = 464
const COMPACTED = 1n << 63n
/** xstate_flags bit: the feature starts 64-byte aligned in the compacted format. */
const ALIGN64 = 2
/** The x87 and SSE features, whose state lives in the legacy area. */
const LEGACY_FEATURES = 3n
/** Larger buffers are not real (AMX tiles make ~11 KiB). */
const MAX_XSAVE_BYTES = 64 * 1024

export interface XsaveConfig {
  /** Size of the standard-format area a debugger gets (fpu_user_cfg.max_size). */
  readonly userSize: number
  /** XCR0 as user space sees it (fpu_user_cfg.max_features). */
  readonly userFeatures: bigint
  /** Bytes of each thread's buffer to read (fpu_kernel_cfg.default_size, at least userSize). */
  readonly bufferSize: number
  readonly offsets: readonly number[]
  readonly sizes: readonly number[]
  readonly flags: readonly number[]
}

function u32s(bytes: Uint8Array, count: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Array.from({ length: count }, (_, i) => view.getUint32(i * 4, true))
}

/**
 * The kernel's XSAVE configuration, or a reason there is none: an FXSAVE-only
 * kernel (no extended user features) or one that lacks the symbols and types.
 */
export async function readXsaveConfig(kernel: KernelContext): Promise<XsaveConfig | { why: string }> {
  const btf = kernel.btf
  const user = kernel.symbols.maybe('fpu_user_cfg')
  const kernelCfg = kernel.symbols.maybe('fpu_kernel_cfg')
  const arrays = ['xstate_offsets', 'xstate_sizes', 'xstate_flags'].map((name) => kernel.symbols.maybe(name))
  if (user === undefined || !btf.hasStruct('fpu_state_config')) return { why: 'this kernel has no fpu_user_cfg (before 5.16): NT_X86_XSTATE is not written' }
  const layout = btf.struct('fpu_state_config')
  const readConfig = async (addr: bigint): Promise<{ maxSize: number; defaultSize: number; maxFeatures: bigint }> => {
    const raw = await readExact(kernel.kmem, virtAddr(addr), layout.sizeBytes)
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
    return {
      maxSize: view.getUint32(layout.field('max_size').offsetBytes, true),
      defaultSize: view.getUint32(layout.field('default_size').offsetBytes, true),
      maxFeatures: view.getBigUint64(layout.field('max_features').offsetBytes, true),
    }
  }
  const userCfg = await readConfig(user)
  if ((userCfg.maxFeatures & ~LEGACY_FEATURES) === 0n) return { why: 'the guest CPU has no XSAVE features beyond x87/SSE (FXSAVE only): no NT_X86_XSTATE' }
  const [offsetsAt, sizesAt, flagsAt] = arrays
  const count = btf.enumValues('xfeature').get('XFEATURE_MAX')
  if (offsetsAt === undefined || sizesAt === undefined || flagsAt === undefined || count === undefined) {
    return { why: 'this kernel lacks xstate_offsets/xstate_sizes/xstate_flags or enum xfeature: NT_X86_XSTATE is not written' }
  }
  const n = Number(count)
  const [offsets, sizes, flags] = await Promise.all([offsetsAt, sizesAt, flagsAt].map(async (at) => u32s(await readExact(kernel.kmem, virtAddr(at), n * 4), n)))
  if (offsets === undefined || sizes === undefined || flags === undefined) return { why: 'xstate arrays unreadable' }
  const bufferSize = kernelCfg === undefined ? userCfg.maxSize : (await readConfig(kernelCfg)).defaultSize
  if (userCfg.maxSize < EXTENDED_START || userCfg.maxSize > MAX_XSAVE_BYTES || bufferSize < EXTENDED_START || bufferSize > MAX_XSAVE_BYTES) {
    return { why: `implausible XSAVE sizes (user ${userCfg.maxSize}, kernel ${bufferSize}): NT_X86_XSTATE is not written` }
  }
  return { userSize: userCfg.maxSize, userFeatures: userCfg.maxFeatures, bufferSize: Math.max(bufferSize, userCfg.maxSize), offsets, sizes, flags }
}

/** Where feature i sits in a buffer: its standard offset, or its place in the compacted run of xcomp_bv's features. */
function sourceOffset(config: XsaveConfig, xcompBv: bigint, feature: number): number | undefined {
  if ((xcompBv & COMPACTED) === 0n) return config.offsets[feature]
  let at = EXTENDED_START
  for (let i = 2; i < config.sizes.length; i++) {
    if ((xcompBv & (1n << BigInt(i))) === 0n) continue
    if (((config.flags[i] ?? 0) & ALIGN64) !== 0) at = (at + 63) & ~63
    if (i === feature) return at
    at += config.sizes[i] ?? 0
  }
  return undefined
}

/**
 * The standard-format XSAVE area of one thread from its in-memory
 * xregs_state (at least EXTENDED_START bytes), or why it cannot be built.
 */
export function standardXsave(config: XsaveConfig, buffer: Uint8Array): Uint8Array | { why: string } {
  if (buffer.length < EXTENDED_START) return { why: 'the XSAVE buffer is shorter than its header' }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  const xfeatures = view.getBigUint64(HEADER_OFFSET, true)
  const xcompBv = view.getBigUint64(HEADER_OFFSET + 8, true)
  const out = new Uint8Array(config.userSize)
  const outView = new DataView(out.buffer)
  out.set(buffer.subarray(0, XCR0_OFFSET))
  outView.setBigUint64(XCR0_OFFSET, config.userFeatures, true)
  const present = xfeatures & config.userFeatures
  outView.setBigUint64(HEADER_OFFSET, present, true)
  for (let i = 2; i < config.sizes.length; i++) {
    if ((present & (1n << BigInt(i))) === 0n) continue
    const from = sourceOffset(config, xcompBv, i)
    const to = config.offsets[i]
    const size = config.sizes[i]
    if (from === undefined || to === undefined || size === undefined) return { why: `XSAVE feature ${i} has no known place` }
    if (from + size > buffer.length || to + size > out.length) return { why: `XSAVE feature ${i} (${size} bytes at ${from}) lies outside the buffer` }
    out.set(buffer.subarray(from, from + size), to)
  }
  return out
}
