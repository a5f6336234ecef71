/** A leaf's download button: streams it to disk (downloads.ts) and shows why when the daemon refuses. */
import { useState } from 'preact/hooks'
import type { Entry } from '../../../../net/index.js'
import { download } from '../downloads.js'
import { joinTreePath } from '../route.js'
import { clientOf, errorText } from '../state.js'

/** Whether a listed entry can be downloaded whole (a mem leaf needs a range: the hex view's Download…). */
export function downloadable(entry: Entry): boolean {
  return entry.type === 'leaf' && entry.meta?.readable === true && entry.meta.content !== 'mem' && entry.meta.content !== 'control' && entry.meta.content !== 'rpc'
}

export function DownloadButton(props: { parent: string; name: string }) {
  const [note, setNote] = useState('')
  const path = joinTreePath(props.parent, props.name)
  // A name that says where it came from: os_g_processes_by-pid_94_core.
  const fileName = path.replaceAll('/', '_')
  return (
    <span class="download">
      <button class="small" data-download={props.name} onClick={() => {
        setNote('')
        void download(clientOf(), path, fileName, undefined).then(() => setNote('downloading'), (err: unknown) => setNote(errorText(err)))
      }}>download</button>
      {note === '' ? null : <span class={note === 'downloading' ? 'dim' : 'error'}> {note}</span>}
    </span>
  )
}
