/**
 * One process: its info as key/value, the leaves it has, and its memory
 * map (maps joined with phys_maps: resident bytes and first physical page
 * per region), with an address search ("which mapping holds 0x…"). A region
 * opens the hex view at its start.
 */
import { useState } from 'preact/hooks'
import { useAsync } from '../hooks.js'
import { hex, parseNumber, sizeText } from '../format.js'
import { joinPhys, parseMaps, parsePhysMaps, regionAt } from '../memory-map.js'
import type { Region } from '../memory-map.js'
import { formatRoute, joinTreePath } from '../route.js'
import { clientOf } from '../state.js'
import { KeyValues } from './text-view.js'
import { DownloadButton, downloadable } from './download-button.js'

export async function loadRegions(processPath: string, withPhys = true): Promise<Region[]> {
  const client = clientOf()
  const maps = parseMaps(await client.readText(joinTreePath(processPath, 'maps')))
  if (!withPhys) return maps
  const phys = await client.readText(joinTreePath(processPath, 'phys_maps')).catch(() => '')
  return joinPhys(maps, parsePhysMaps(phys))
}

export function ProcessView(props: { path: string }) {
  const info = useAsync(async () => JSON.parse(await clientOf().readText(joinTreePath(props.path, 'info'))) as Record<string, unknown>, [props.path])
  const regions = useAsync(() => loadRegions(props.path), [props.path])
  const leaves = useAsync(() => clientOf().list(props.path), [props.path])
  const [search, setSearch] = useState('')
  const wanted = parseNumber(search)
  const holder = wanted === undefined || regions.state !== 'done' ? undefined : regionAt(regions.value, wanted)
  const memPath = joinTreePath(props.path, 'mem')
  return (
    <div class="process">
      <div class="columns">
        <section>
          <h2>Process</h2>
          {info.state === 'done' ? <KeyValues value={info.value} /> : <p class={info.state === 'failed' ? 'error' : 'dim'}>{info.state === 'failed' ? info.error : 'reading…'}</p>}
        </section>
        <section>
          <h2>Leaves</h2>
          <ul class="leaves">
            {leaves.state === 'done' ? leaves.value.map((e) => (
              <li key={e.name}><a href={formatRoute({ path: joinTreePath(props.path, e.name) })}>{e.name}{e.type === 'branch' ? '/' : ''}</a> <span class="dim">{e.meta?.content ?? ''}</span>
                {downloadable(e) ? <> <DownloadButton parent={props.path} name={e.name} /></> : null}</li>
            )) : null}
          </ul>
          <p><a class="button" href={formatRoute({ path: memPath })}>Open memory</a></p>
        </section>
      </div>
      <h2>Memory map</h2>
      <div class="toolbar">
        <input class="filter" placeholder="which mapping holds 0x…" value={search} onInput={(e) => setSearch(e.currentTarget.value)} spellcheck={false} />
        {wanted === undefined ? null : holder === undefined ? <span class="error">no mapping holds {hex(wanted)}</span>
          : <span>held by <a href={formatRoute({ path: memPath, at: hex(wanted) })}>{hex(holder.start)}–{hex(holder.end)} {holder.path}</a> at +{hex(wanted - holder.start)}</span>}
      </div>
      {regions.state === 'done' ? (
        <table class="grid maps">
          <thead><tr><th>start</th><th>end</th><th class="num">size</th><th>perms</th><th class="num">resident</th><th>first physical</th><th>file</th></tr></thead>
          <tbody>
            {regions.value.map((r) => (
              <tr key={`${r.start}`} class={holder === r ? 'hit' : ''}>
                <td class="mono"><a href={formatRoute({ path: memPath, at: hex(r.start) })}>{hex(r.start)}</a></td>
                <td class="mono">{hex(r.end)}</td>
                <td class="num">{sizeText(r.end - r.start)}</td>
                <td class="mono">{r.perms}</td>
                <td class="num">{sizeText(r.resident)}</td>
                <td class="mono">{r.firstPhys === undefined ? '—' : hex(r.firstPhys)}</td>
                <td>{r.path}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class={regions.state === 'failed' ? 'error' : 'dim'}>{regions.state === 'failed' ? regions.error : 'reading maps…'}</p>}
    </div>
  )
}
