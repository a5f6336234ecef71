/**
 * A process that mounts an empty memweave node at argv[2] and stays up
 * until killed; the stale-mount test kills it with SIGKILL and mounts again
 * over what it left behind.
 */
import { mountTree } from '../src/frontends/fuse/index.js'
import { LocalTreeClient } from '../src/net/index.js'
import { testLog, testNode } from './fuse-kit.js'

const mountpoint = process.argv[2]
if (mountpoint === undefined) throw new Error('usage: fuse-mount-child.ts MOUNTPOINT')
const node = testNode({ allowWrite: false, log: testLog() })
const mounted = await mountTree(new LocalTreeClient(node.tree), mountpoint, { readOnly: true, log: testLog() })
process.stdout.write(`mounted ${mounted.mountpoint}\n`)
process.once('SIGTERM', () => { void mounted.unmount().then(() => node.close()) })
