/** The generic listing of a branch: names, kinds and sizes from the listing's metadata; each a link. */
import { useAsync } from '../hooks.js'
import { formatRoute, joinTreePath } from '../route.js'
import { clientOf } from '../state.js'
import { sizeText } from '../format.js'
import { DownloadButton, downloadable } from './download-button.js'

export function BranchView(props: { path: string }) {
  const listing = useAsync(() => clientOf().list(props.path), [props.path])
  if (listing.state === 'loading') return <p class="dim">listing…</p>
  if (listing.state === 'failed') return <p class="error">{listing.error}</p>
  const entries = [...listing.value].sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name, undefined, { numeric: true }) : a.type === 'branch' ? -1 : 1))
  return (
    <table class="grid listing">
      <thead><tr><th>name</th><th>kind</th><th class="num">size</th><th>access</th><th /></tr></thead>
      <tbody>
        {entries.map((entry) => (
          <tr key={entry.name}>
            <td><a class={entry.type} href={formatRoute({ path: joinTreePath(props.path, entry.name) })}>{entry.name}{entry.type === 'branch' ? '/' : ''}</a></td>
            <td>{entry.type === 'branch' ? 'branch' : entry.meta?.content ?? 'leaf'}</td>
            <td class="num">{entry.type === 'leaf' ? sizeText(entry.meta?.sizeBytes) : ''}</td>
            <td class="dim">{entry.meta === undefined ? '' : `${entry.meta.readable ? 'r' : '-'}${entry.meta.writable ? 'w' : '-'}${entry.meta.rpc ? 'x' : '-'}`}</td>
            <td>{downloadable(entry) ? <DownloadButton parent={props.path} name={entry.name} /> : null}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
