// Type-checked against the installed package's declarations: the public names and their types.
import { connect, createNode, MemweaveError, osView, readJson, PROTOCOL_VERSION } from 'memweave'
import type { ErrorKind, LocalNode, OpenResult, PieceResult, ProcessView, TreeClient } from 'memweave'
import { BufferMemory, PageCache } from 'memweave/mem'
import type { PhysicalMemory } from 'memweave/mem'
import { SparseMemory } from 'memweave/testing'

export async function processNames(client: TreeClient, os: string): Promise<string[]> {
  const processes: ProcessView[] = await osView(client, os).processes()
  return processes.map((p) => `${p.pid} ${p.name ?? ''}`)
}

export async function firstPiece(client: TreeClient, path: string): Promise<PieceResult | undefined> {
  const opened: OpenResult = await client.open(path)
  try {
    const [piece] = await client.read(opened.handle, [{ addr: 0n, length: 16 }])
    return piece
  } finally {
    await client.close(opened.handle)
  }
}

export function kindOf(err: unknown): ErrorKind | undefined {
  return err instanceof MemweaveError ? err.kind : undefined
}

export async function daemonVersion(): Promise<string> {
  const client = await connect()
  try {
    return `${client.serverInfo.version.major}.${client.serverInfo.version.minor} (we speak ${PROTOCOL_VERSION.major}.${PROTOCOL_VERSION.minor})`
  } finally {
    await client.disconnect()
  }
}

export async function nodeInfo(): Promise<unknown> {
  const node: LocalNode = await createNode({ allowWrite: false })
  try {
    return await readJson(node.client(), 'sys/info')
  } finally {
    await node.close()
  }
}

export function memories(): PhysicalMemory[] {
  const sparse = new SparseMemory({ maxAddress: 1n << 20n })
  return [sparse, new PageCache(sparse), new BufferMemory(new Uint8Array(4096))]
}
