/**
 * One process as a tree branch: a PROCESS_OBJECT whose children are the
 * mappings registered on processes (info, mem, maps, … and plugins). Its
 * identity includes the start time, so a reused pid is a different object
 * with different handles.
 */
import type { Branch, MappingRegistry, TreeObject } from '../../tree/index.js'
import type { OsProcess } from '../os-model.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { NamedOs } from '../os-objects.js'

export function processIdentity(osIdentity: string, process: OsProcess): string {
  return `${osIdentity}/pid:${process.ref.pid}@${process.ref.startTime}`
}

export function processBranch(registry: MappingRegistry, os: TreeObject<NamedOs>, process: OsProcess): Branch {
  return registry.objectBranch({
    class: PROCESS_OBJECT,
    value: { osName: os.value.name, osKind: os.value.kind, os: os.value.os, process },
    identity: processIdentity(os.identity, process),
    lifetime: process.lifetime,
  })
}
