/**
 * processes/…/PID/minidump: a Windows user-mode minidump of the process
 * (minidump-layout.ts), for Windows processes only. Like `core`, its layout
 * is planned when listed or opened, and the memory is read as it is asked for.
 */
import type { Leaf, LeafMapping } from '../../tree/index.js'
import { plannedFileLeaf } from '../core-file/planned-file-leaf.js'
import { PROCESS_OBJECT } from '../os-objects.js'
import type { ProcessObject } from '../os-objects.js'
import { planMinidump } from './minidump-layout.js'

function minidumpLeaf(identity: string, object: ProcessObject, lifetime: Leaf['lifetime']): Leaf {
  return plannedFileLeaf(identity, lifetime, object.process.mem, async () => {
    const info = await object.os.info()
    const build = typeof info['build'] === 'number' ? info['build'] : 0
    const arch = typeof info['arch'] === 'string' ? info['arch'] : 'x86_64'
    return planMinidump(object.process, { arch, build, majorVersion: 10, minorVersion: 0 })
  })
}

export const processMinidumpLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'minidump',
  appliesTo: (value) => value.osKind === 'windows',
  leaf: (object) => minidumpLeaf(`${object.identity}/minidump`, object.value, object.lifetime),
}
