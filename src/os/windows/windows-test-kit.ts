/**
 * Test helper: a built Windows image (windows-image-kit.ts) written in a
 * container (raw, ELF core, PAGEDU64 full or bitmap) and opened through the
 * real file connector and the `windows` OS kind.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Connector } from '../../connectors/index.js'
import { fileConnectorKind, writeElfCore, writeWindowsDump } from '../../connectors/file/index.js'
import { Lifetime, parseKindArgs } from '../../tree/index.js'
import type { OsInstance } from '../os-model.js'
import { windowsOsKind } from './windows-kind.js'
import type { BuiltWindows } from './windows-image-kit.js'

export const CONTAINERS = ['raw', 'elf', 'pagedu64-full', 'pagedu64-bitmap'] as const
export type Container = (typeof CONTAINERS)[number]

const quiet = pino({ level: 'silent' })

/** The image's bytes in a container; the bitmap dump leaves out each process's droppable frame. */
export function containerBytes(image: BuiltWindows, container: Container): Uint8Array {
  const { memory } = image
  const header = { dtb: BigInt(image.kernelDtb), build: 19041, kdDebuggerDataBlock: image.kdbg ?? 0n, psActiveProcessHead: image.processHead, psLoadedModuleList: image.moduleList }
  switch (container) {
    case 'raw': return memory.raw()
    case 'elf': return writeElfCore(memory.ranges(), [])
    case 'pagedu64-full': return writeWindowsDump(memory.ranges(), { layout: 'full', ...header })
    case 'pagedu64-bitmap': {
      const drop = new Set(image.processes.flatMap((p) => (p.droppable === undefined ? [] : [p.droppable.frame])))
      return writeWindowsDump(memory.ranges(drop), { layout: 'bitmap', ...header })
    }
  }
}

export interface OpenedImage {
  readonly connector: Connector
  readonly os: OsInstance
  close(): Promise<void>
}

export async function openConnector(dir: string, name: string, bytes: Uint8Array, extra = ''): Promise<Connector> {
  const path = join(dir, name)
  await writeFile(path, bytes)
  return fileConnectorKind.create(parseKindArgs(extra === '' ? path : `${path},${extra}`), { allowWrite: false, log: quiet, parentLifetime: new Lifetime('test node'), description: `connector '${name}'` })
}

export function openWindows(connector: Connector, args = ''): Promise<OsInstance> {
  return windowsOsKind.create(parseKindArgs(args), connector, { allowWrite: false, log: quiet, parentLifetime: connector.lifetime, description: "os 'win'" })
}

export async function openBuilt(dir: string, image: BuiltWindows, container: Container, connectorArgs = ''): Promise<OpenedImage> {
  const connector = await openConnector(dir, `${container}.img`, containerBytes(image, container), connectorArgs)
  try {
    const os = await openWindows(connector)
    return { connector, os, close: async () => { await os.close(); await connector.close() } }
  } catch (err) {
    await connector.close()
    throw err
  }
}
