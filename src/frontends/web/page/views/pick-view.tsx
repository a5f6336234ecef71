/**
 * Chooses the view for a route from the path's shape and the leaf's
 * metadata: a processes branch gets the process table, a process its
 * overview (info and memory map), a mem leaf the hex view, text the
 * key/value or text view, control and rpc leaves their forms; any other
 * branch the generic listing.
 */
import { useAsync } from '../hooks.js'
import type { Route } from '../route.js'
import { clientOf } from '../state.js'
import { BookmarksView } from './bookmarks-view.js'
import { BranchView } from './branch-view.js'
import { GraphView } from './graph-view.js'
import { ControlView, RpcView } from './call-views.js'
import { HexView } from './hex-view.js'
import { ProcessView } from './process-view.js'
import { PROCESSES_PATH, ProcessesView } from './processes-view.js'
import { TextView } from './text-view.js'

/** The page's own view of the bookmarks (not a tree path: tree names never start with '~'). */
export const BOOKMARKS_PATH = '~bookmarks'
export const GRAPH_PATH = '~graph'
const PROCESS = /^(?:[^/]+\/)*os\/[^/]+\/processes\/by-(?:pid|name|pid-name)\/[^/]+$/

export function PickView(props: { route: Route }) {
  const { path } = props.route
  // An OS's processes branch needs no stat to pick its view (the table says itself when the path is not there): one round trip less to the first table.
  const processes = PROCESSES_PATH.exec(path)
  const stat = useAsync(() => (path === BOOKMARKS_PATH || path === GRAPH_PATH || processes !== null ? Promise.resolve(undefined) : clientOf().stat(path)), [path])
  if (path === BOOKMARKS_PATH) return <BookmarksView />
  if (path === GRAPH_PATH) return <GraphView />
  if (processes !== null) return <ProcessesView osPath={processes[1] ?? ''} />
  if (stat.state === 'loading') return <p class="dim">loading…</p>
  if (stat.state === 'failed') return <p class="error">{stat.error}</p>
  const found = stat.value
  if (found === undefined) return null
  if (found.type === 'branch') {
    if (PROCESS.test(path)) return <ProcessView path={path} />
    return <BranchView path={path} />
  }
  const meta = found.meta
  switch (meta?.content) {
    case 'mem': return <HexView key={path} path={path} at={props.route.at} />
    case 'control': return <ControlView path={path} />
    case 'rpc': return <RpcView path={path} />
    default: return <TextView path={path} />
  }
}
