/**
 * processes/…/PID/threads/TID/: every thread of a process, for OS kinds
 * that read threads (OsProcess.threads).
 *
 *   info            JSON: tid, name, state, cpu, where the registers came from, warnings
 *   registers       text, like gdb's `info registers`
 *   registers.json  the same registers as JSON (hex strings)
 *
 * Each leaf reads the threads afresh when opened (a live process moves on).
 */
import { MemweaveError } from '../../errors/index.js'
import { generatedLeaf, jsonLeaf, staticBranch } from '../../tree/index.js'
import type { Branch, BranchMapping, Lifetime, TreeNode } from '../../tree/index.js'
import type { OsProcess } from '../os-model.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'
import { formatRegisters, registersJson } from '../thread-state.js'
import type { ThreadState } from '../thread-state.js'

async function threadOf(process: OsProcess, tid: number): Promise<ThreadState | undefined> {
  return (await process.threads?.())?.find((t) => t.tid === tid)
}

async function mustThread(process: OsProcess, tid: number): Promise<ThreadState> {
  const thread = await threadOf(process, tid)
  if (thread === undefined) throw new MemweaveError('os', 'not_found', `thread ${tid} is no longer in process ${process.ref.pid}`)
  return thread
}

function threadBranch(identity: string, lifetime: Lifetime, process: OsProcess, tid: number): TreeNode {
  return staticBranch({
    info: jsonLeaf(`${identity}/info`, lifetime, async () => {
      const t = await mustThread(process, tid)
      return { tid: t.tid, pid: process.ref.pid, name: t.name, state: t.state, cpu: t.cpu ?? null, registerSource: t.registers.source, warnings: t.registers.warnings }
    }),
    registers: generatedLeaf({ identity: `${identity}/registers`, lifetime, generate: async () => formatRegisters((await mustThread(process, tid)).registers) }),
    'registers.json': jsonLeaf(`${identity}/registers.json`, lifetime, async () => registersJson((await mustThread(process, tid)).registers)),
  }, lifetime)
}

export const processThreadsBranch: BranchMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'threads',
  appliesTo: (value) => value.process.threads !== undefined,
  branch: (object) => {
    const process = object.value.process
    const branch: Branch = {
      type: 'branch',
      lifetime: object.lifetime,
      list: async () => ((await process.threads?.()) ?? []).map((t) => ({ name: String(t.tid), type: 'branch' as const })),
      get: async (name) => {
        const tid = /^[1-9][0-9]{0,9}$/.test(name) ? Number(name) : undefined
        if (tid === undefined || (await threadOf(process, tid)) === undefined) return undefined
        return threadBranch(`${object.identity}/thread:${tid}`, object.lifetime, process, tid)
      },
    }
    return branch
  },
}
