/**
 * Threads of a host process without ptrace (which would stop it):
 *
 *   /proc/PID/task/            the thread ids
 *   /proc/PID/task/TID/stat    name and state
 *   /proc/PID/task/TID/syscall "NR ARG1..ARG6 SP PC" for a thread blocked in a
 *                              system call ("-1 SP PC" if blocked elsewhere,
 *                              "running" while on a CPU): rip, rsp, orig_rax
 *
 * Everything else (rbp, callee-saved registers, FS base, FPU) needs ptrace
 * and stays zero; each thread says so in its warnings.
 */
import { readdir } from 'node:fs/promises'
import { toMemweaveError } from '../../errors/index.js'
import type { ThreadState } from '../thread-state.js'
import type { UserRegName } from '../x86-64-registers.js'
import { zeroRegs } from '../x86-64-registers.js'
import { isGone, readProcText } from './proc-files.js'
import { parseProcStat } from './proc-stat.js'

const PTRACE_ONLY = 'only rip and rsp are known (/proc/PID/task/TID/syscall); the other registers, FS base and FPU need ptrace, which memweave does not use'

/** rip, rsp and orig_rax from a syscall file, or why not. */
export function parseSyscallFile(text: string): { regs: Partial<Record<UserRegName, bigint>> } | { why: string } {
  const words = text.trim().split(/\s+/)
  if (words[0] === 'running') return { why: 'running on a CPU: its registers are not saved anywhere readable' }
  if (words.length !== 9 && words.length !== 3) return { why: `unexpected syscall file: '${text.trim().slice(0, 60)}'` }
  const sp = BigInt(words[words.length - 2] ?? '0')
  const pc = BigInt(words[words.length - 1] ?? '0')
  const nr = BigInt(words[0] ?? '-1')
  return { regs: { rip: pc, rsp: sp, orig_rax: BigInt.asUintN(64, nr), cs: 0x33n, ss: 0x2bn } }
}

export async function readNativeThreads(pid: number, arch: string): Promise<ThreadState[]> {
  let tids: number[]
  try {
    tids = (await readdir(`/proc/${pid}/task`)).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0).sort((a, b) => a - b)
  } catch (err) {
    if (isGone(err)) return []
    throw toMemweaveError(err, 'os', `listing /proc/${pid}/task`)
  }
  const ordered = [...tids.filter((t) => t === pid), ...tids.filter((t) => t !== pid)]
  const threads = await Promise.all(ordered.map(async (tid): Promise<ThreadState | undefined> => {
    const [statText, syscallText] = await Promise.all([
      readProcText(`/proc/${pid}/task/${tid}/stat`),
      arch === 'x86_64' ? readProcText(`/proc/${pid}/task/${tid}/syscall`).catch((err: unknown) => `unreadable ${String(err)}`) : Promise.resolve(undefined),
    ])
    if (statText === undefined) return undefined
    const stat = parseProcStat(statText)
    const parsed = syscallText === undefined ? { why: `registers of ${arch} threads are not read` } : parseSyscallFile(syscallText)
    const registers = 'regs' in parsed
      ? { arch: 'x86_64' as const, source: 'proc-syscall' as const, regs: { ...zeroRegs(), ...parsed.regs }, fxsave: undefined, warnings: [PTRACE_ONLY] }
      : { arch: 'x86_64' as const, source: 'none' as const, regs: zeroRegs(), fxsave: undefined, warnings: [parsed.why] }
    return { tid, name: stat.comm, state: stat.state, cpu: undefined, registers }
  }))
  return threads.filter((t): t is ThreadState => t !== undefined)
}
