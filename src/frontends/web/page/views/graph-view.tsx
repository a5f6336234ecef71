/**
 * The composition graph of this node: the node and its peers, the
 * connectors and OSs it shows (flattened remote names `peer.name` hang off
 * their peer), and each OS's `-c` edge to its connector. Below it, the
 * node's open handles (sys/handles), each with its peer chain.
 */
import { useAsync } from '../hooks.js'
import { formatRoute } from '../route.js'
import { clientOf } from '../state.js'

interface Graph { nodeId: string; peers: string[]; connectors: string[]; oses: Array<{ name: string; connector: string | undefined }>; handles: string }

async function loadGraph(): Promise<Graph> {
  const client = clientOf()
  const names = async (path: string): Promise<string[]> => (await client.list(path).catch(() => [])).filter((e) => e.type === 'branch').map((e) => e.name)
  const peerList = JSON.parse(await client.readText('sys/peers/list').catch(() => '[]')) as unknown
  const peers = Array.isArray(peerList) ? peerList.map((p: unknown) => (typeof p === 'object' && p !== null && 'name' in p ? String(p.name) : '?')) : []
  const oses = await Promise.all((await names('os')).map(async (name) => {
    const info = JSON.parse(await client.readText(`os/${name}/info`).catch(() => '{}')) as Record<string, unknown>
    return { name, connector: typeof info['connector'] === 'string' ? info['connector'] : undefined }
  }))
  return { nodeId: client.serverInfo.nodeId, peers, connectors: await names('connector'), oses, handles: await client.readText('sys/handles').catch((err: unknown) => String(err)) }
}

const ROW = 34
const C0 = 30
const C1 = 330
const C2 = 630

export function GraphView() {
  const graph = useAsync(loadGraph, [])
  if (graph.state === 'loading') return <p class="dim">reading the node…</p>
  if (graph.state === 'failed') return <p class="error">{graph.error}</p>
  const { peers, connectors, oses, nodeId } = graph.value
  const left = ['this node', ...peers]
  const y = (i: number): number => 30 + i * ROW
  const ownerOf = (name: string): number => { const peer = peers.indexOf(name.split('.')[0] ?? ''); return name.includes('.') && peer >= 0 ? peer + 1 : 0 }
  const height = 40 + Math.max(left.length, connectors.length, oses.length) * ROW
  return (
    <div class="graph">
      <h2>Composition</h2>
      <svg class="graph-svg" width="900" height={height} role="img" aria-label="composition graph">
        {connectors.map((c, i) => <line key={`lc${c}`} class="edge" x1={C0 + 200} y1={y(ownerOf(c))} x2={C1} y2={y(i)} />)}
        {oses.map((o, i) => {
          // A peer's OS names the peer's connector; here that connector is flattened under the same prefix.
          const prefix = o.name.includes('.') ? o.name.slice(0, o.name.lastIndexOf('.') + 1) : ''
          const target = o.connector === undefined ? -1 : Math.max(connectors.indexOf(o.connector), connectors.indexOf(`${prefix}${o.connector}`))
          return target < 0
            ? <line key={`lo${o.name}`} class="edge dim-edge" x1={C0 + 200} y1={y(ownerOf(o.name))} x2={C2} y2={y(i)} />
            : <line key={`lo${o.name}`} class="edge c-edge" x1={C1 + 200} y1={y(target)} x2={C2} y2={y(i)} />
        })}
        {left.map((name, i) => <g key={`n${name}`}><rect class="box node-box" x={C0} y={y(i) - 12} width="200" height="24" rx="5" /><text x={C0 + 8} y={y(i) + 5}>{i === 0 ? `this node ${nodeId.slice(0, 8)}` : `peer ${name}`}</text></g>)}
        {connectors.map((name, i) => <a key={`c${name}`} href={formatRoute({ path: `connector/${name}` })}><rect class="box conn-box" x={C1} y={y(i) - 12} width="200" height="24" rx="5" /><text x={C1 + 8} y={y(i) + 5}>connector {name}</text></a>)}
        {oses.map((o, i) => <a key={`o${o.name}`} href={formatRoute({ path: `os/${o.name}/processes` })}><rect class="box os-box" x={C2} y={y(i) - 12} width="200" height="24" rx="5" /><text x={C2 + 8} y={y(i) + 5}>os {o.name}</text></a>)}
      </svg>
      <p class="dim">Lines: a node shows a connector or OS (flattened remote names hang off their peer); an OS's <code>-c</code> connector.</p>
      <h2>Open handles</h2>
      <pre class="text">{graph.value.handles}</pre>
    </div>
  )
}
