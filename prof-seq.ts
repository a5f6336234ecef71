import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { fileConnectorKind } from './src/connectors/file/index.js'
import { mountTree } from './src/frontends/fuse/index.js'
import { LocalTreeClient } from './src/net/index.js'
import { BUILTIN_CONNECTOR_KINDS, BUILTIN_MAPPINGS, MemweaveNode } from './src/node/index.js'
const log = pino({ level: 'warn' })
const dir = await mkdtemp(join(tmpdir(), 'fuse3-prof-'))
await writeFile(join(dir, 'ram.raw'), Buffer.alloc(256 << 20, 7))
await mkdir(join(dir, 'mnt'))
const node = new MemweaveNode({ allowWrite: false, log, connectorKinds: [...BUILTIN_CONNECTOR_KINDS.filter((k) => k.kind !== 'file'), fileConnectorKind], osKinds: [], mappings: BUILTIN_MAPPINGS })
await node.newConnector(`dump file:${join(dir, 'ram.raw')}`)
const m = await mountTree(new LocalTreeClient(node.tree), join(dir, 'mnt'), { readOnly: true, log, implementation: (process.env.IMPL ?? 'libfuse3') as 'libfuse3' })
const dd = (f: string) => new Promise<number>((res) => execFile('dd', [`if=${f}`, 'of=/dev/null', 'bs=1M'], (e, so, se) => res(Number(/([\d.]+) s,/.exec(se)?.[1]))))
for (let i = 0; i < 4; i++) {
  const t = await dd(join(dir, 'mnt/connector/dump/mem'))
  const f = await dd(join(dir, 'ram.raw'))
  console.log('mount MB/s', (268.4 / t).toFixed(0), 'dd file MB/s', (268.4 / f).toFixed(0), 'ratio', (f / t).toFixed(2))
}
await m.unmount(); await node.close(); await rm(dir, { recursive: true, force: true })
