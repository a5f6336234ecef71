/**
 * Downloads streamed to disk by the browser itself: the page asks the daemon
 * for a one-time download ticket over its session (protocol 1.4 `download`:
 * the path, the range, the session's own rights), then posts a small form
 * carrying the ticket in its body to the daemon's `/download`. The daemon
 * streams the leaf as an attachment, so the bytes go straight to the
 * browser's download manager: nothing is collected in page memory, and no
 * credential is ever in a URL. A process's whole memory is its `core` leaf.
 */
import type { DownloadGrant } from '../../../net/index.js'
import type { Region } from './memory-map.js'
import type { PageClient } from './protocol.js'

export interface DownloadRange { readonly start: bigint; readonly length: bigint }

/** Saves a leaf, or [start, start+length) of it, as `name`; resolves once the browser was handed the download. */
export async function download(client: PageClient, path: string, name: string, range: DownloadRange | undefined): Promise<DownloadGrant> {
  const grant = await client.call('download', { path, name, ...(range === undefined ? {} : { offset: range.start, length: range.length }) })
  const form = document.createElement('form')
  form.method = 'POST'
  form.action = grant.action
  form.enctype = 'application/x-www-form-urlencoded'
  const ticket = document.createElement('input')
  ticket.type = 'hidden'
  ticket.name = 'ticket'
  ticket.value = grant.ticket
  form.append(ticket)
  document.body.append(form)
  form.submit()
  form.remove()
  return grant
}

/** The first address of [start, end) that no region maps, or undefined when the regions cover all of it. */
export function firstUnmapped(regions: readonly Region[], start: bigint, end: bigint): bigint | undefined {
  let at = start
  for (const region of [...regions].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
    if (at >= end) return undefined
    if (region.end <= at) continue
    if (region.start > at) return at
    at = region.end
  }
  return at >= end ? undefined : at
}
