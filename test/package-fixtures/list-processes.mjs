// Run in an empty project after installing the memweave tarball: opens a dump, prints [pid, name] pairs.
import { createNode, osView } from 'memweave'

const node = await createNode()
try {
  await node.openConnector('dump', `file:${process.argv[2]}`)
  await node.openOs('g', 'linux', { connector: 'dump' })
  const processes = await osView(node.client(), 'g').processes()
  console.log(JSON.stringify(processes.map((p) => [p.pid, p.name])))
} finally {
  await node.close()
}
