/**
 * os/NAME/processes/: by-pid/, by-name/, by-pid-name/ and a readme. Every
 * lookup asks the OS afresh (a pid lookup calls os.process(pid)); listings
 * come from os.processes(), whose caching is the OS kind's business.
 */
import { generatedLeaf, staticBranch } from '../../tree/index.js'
import type { Branch, BranchMapping, Lifetime, MappingRegistry, TreeNode, TreeObject } from '../../tree/index.js'
import type { OsInstance, ProcessRef } from '../os-model.js'
import { OS_OBJECT } from '../os-objects.js'
import type { NamedOs } from '../os-objects.js'
import { processBranch } from './process-branch.js'
import { PROCESSES_README } from './processes-readme.js'
import { parsePidNameSegment, parsePidSegment, pidNameSegment, segmentForName } from './tree-names.js'

/** A branch whose listing is names only (no per-entry lookups) and whose get resolves one name. */
function namesBranch(lifetime: Lifetime, names: () => Promise<string[]>, lookup: (name: string) => Promise<TreeNode | undefined>): Branch {
  return {
    type: 'branch',
    lifetime,
    list: async () => (await names()).map((name) => ({ name, type: 'branch' as const })),
    get: lookup,
  }
}

/** For each escaped name, the process with the lowest pid. */
function lowestPidByName(refs: readonly ProcessRef[]): Map<string, ProcessRef> {
  const out = new Map<string, ProcessRef>()
  for (const ref of refs) {
    const name = segmentForName(ref.name)
    const known = out.get(name)
    if (known === undefined || ref.pid < known.pid) out.set(name, ref)
  }
  return out
}

function processesBranch(object: TreeObject<NamedOs>, registry: MappingRegistry): Branch {
  const os: OsInstance = object.value.os
  const lifetime = object.lifetime
  const byPid = async (pid: number | undefined): Promise<TreeNode | undefined> => {
    if (pid === undefined) return undefined
    const process = await os.process(pid)
    return process === undefined ? undefined : processBranch(registry, object, process)
  }
  return staticBranch({
    'by-pid': namesBranch(lifetime,
      async () => (await os.processes()).map((r) => String(r.pid)),
      (name) => byPid(parsePidSegment(name))),
    'by-name': namesBranch(lifetime,
      async () => [...lowestPidByName(await os.processes()).keys()],
      async (name) => byPid(lowestPidByName(await os.processes()).get(name)?.pid)),
    'by-pid-name': namesBranch(lifetime,
      async () => (await os.processes()).map((r) => pidNameSegment(r.name, r.pid)),
      async (segment) => {
        const parsed = parsePidNameSegment(segment)
        if (parsed === undefined) return undefined
        const process = await os.process(parsed.pid)
        // The name is part of the path: a pid now running something else does not match.
        if (process === undefined || segmentForName(process.ref.name) !== parsed.name) return undefined
        return processBranch(registry, object, process)
      }),
    readme: generatedLeaf({ identity: `${object.identity}/processes/readme`, lifetime, generate: () => PROCESSES_README }),
  }, lifetime)
}

export const osProcessesBranch: BranchMapping<NamedOs> = {
  on: OS_OBJECT,
  name: 'processes',
  branch: processesBranch,
}
