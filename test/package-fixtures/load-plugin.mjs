// Loads a compiled plugin into a node made by the package, then reads its leaves on one process.
import { callRpc, createNode, readText, writeLine } from 'memweave'

const [dump, pluginFile, pid, needle] = process.argv.slice(2)
const node = await createNode()
try {
  await node.openConnector('dump', `file:${dump}`)
  await node.openOs('g', 'linux', { connector: 'dump' })
  const client = node.client()
  await writeLine(client, 'sys/plugins/load', pluginFile)
  const base = `os/g/processes/by-pid/${pid}`
  const heap = await readText(client, `${base}/heap.txt`)
  const found = await callRpc(client, `${base}/heap-grep`, needle)
  console.log(JSON.stringify({ heap, found }))
} finally {
  await node.close()
}
