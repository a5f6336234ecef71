/**
 * The composition root's lists: which connector kinds, OS kinds and tree
 * mappings a node starts with. Built-in features are registered through the
 * same mapping door as plugins.
 */
import { CONNECTOR_MAPPINGS, fileConnectorKind, kcoreConnectorKind, qemuConnectorKind } from '../connectors/index.js'
import type { ConnectorKind } from '../connectors/index.js'
import { OS_MAPPINGS } from '../os/index.js'
import type { OsKind } from '../os/index.js'
import { linuxOsKind } from '../os/linux/index.js'
import { nativeOsKind } from '../os/native/index.js'
import { WINDOWS_MAPPINGS, windowsOsKind } from '../os/windows/index.js'
import { BUILTIN_PLUGIN_MAPPINGS } from '../plugins/index.js'
import type { Mapping } from '../tree/index.js'

export const BUILTIN_CONNECTOR_KINDS: readonly ConnectorKind[] = [fileConnectorKind, qemuConnectorKind, kcoreConnectorKind]
export const BUILTIN_OS_KINDS: readonly OsKind[] = [linuxOsKind, nativeOsKind, windowsOsKind]
export const BUILTIN_MAPPINGS: readonly Mapping<never>[] = [...CONNECTOR_MAPPINGS, ...OS_MAPPINGS, ...WINDOWS_MAPPINGS, ...BUILTIN_PLUGIN_MAPPINGS]
