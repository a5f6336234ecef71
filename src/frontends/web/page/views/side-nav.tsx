/** The side list: each OS (processes, kernel memory, modules) and connector of the node, and sys/. Re-listed when they change. */
import { useEffect, useState } from 'preact/hooks'
import { formatRoute, route } from '../route.js'
import { clientOf } from '../state.js'

interface Objects { os: string[]; connectors: string[] }

export function SideNav() {
  const [objects, setObjects] = useState<Objects>({ os: [], connectors: [] })
  useEffect(() => {
    const client = clientOf()
    let live = true
    const load = async (): Promise<void> => {
      const names = async (path: string): Promise<string[]> => (await client.list(path).catch(() => [])).filter((e) => e.type === 'branch').map((e) => e.name)
      const next = { os: await names('os'), connectors: await names('connector') }
      if (live) setObjects(next)
    }
    void load()
    // Only objects at the top matter here (an OS or connector made or removed, a peer); a process coming or going does not.
    const unwatch = client.watch('', (event) => { if (event.path.split('/').length <= 2) void load() }).catch(() => undefined)
    return () => { live = false; void unwatch.then((u) => u?.()) }
  }, [])
  const here = route.value.path
  const link = (path: string, label: string) => <a class={here === path || here.startsWith(`${path}/`) ? 'on' : ''} href={formatRoute({ path })}>{label}</a>
  return (
    <aside class="side">
      <h3>Operating systems</h3>
      {objects.os.length === 0 ? <p class="dim">none</p> : null}
      {objects.os.map((name) => (
        <div class="group" key={name}>
          <div class="group-name">{name}</div>
          {link(`os/${name}/processes`, 'processes')}
          {link(`os/${name}/kmem`, 'kernel memory')}
          {link(`os/${name}/modules`, 'modules')}
          {link(`os/${name}/info`, 'info')}
        </div>
      ))}
      <h3>Connectors</h3>
      {objects.connectors.length === 0 ? <p class="dim">none</p> : null}
      {objects.connectors.map((name) => <div class="group" key={name}>{link(`connector/${name}`, name)}</div>)}
      <h3>Node</h3>
      {link('~graph', 'composition')}
      {link('sys', 'sys')}
      {link('~bookmarks', 'bookmarks')}
      {link('', 'whole tree')}
    </aside>
  )
}
