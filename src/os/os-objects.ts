/**
 * Object classes the OS tree hosts. Features (built-in leaves, plugins) attach
 * to these with mappings: e.g. a `maps` leaf on every process, an `environ`
 * leaf on processes of OS kinds that can read environments.
 */
import { objectClass } from '../tree/index.js'
import type { ObjectClass } from '../tree/index.js'
import type { ModuleInfo, OsInstance, OsProcess } from './os-model.js'

export interface NamedOs {
  readonly name: string
  readonly kind: string
  readonly os: OsInstance
  /** Milliseconds the OS took to open, for info. */
  readonly openMs: number
  readonly connectorName: string | undefined
}

export interface ProcessObject {
  readonly osName: string
  readonly osKind: string
  readonly os: OsInstance
  readonly process: OsProcess
}

export interface ModuleObject {
  readonly osName: string
  readonly os: OsInstance
  /** The process the image is mapped in; undefined for a kernel module. */
  readonly process: OsProcess | undefined
  readonly module: ModuleInfo
}

export const OS_OBJECT: ObjectClass<NamedOs> = objectClass<NamedOs>('os')
export const PROCESS_OBJECT: ObjectClass<ProcessObject> = objectClass<ProcessObject>('process')
export const MODULE_OBJECT: ObjectClass<ModuleObject> = objectClass<ModuleObject>('module')
