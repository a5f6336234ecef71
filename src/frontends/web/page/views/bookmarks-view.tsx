/** The bookmarks of this daemon's node: links with notes, remove, export as JSON, import from JSON. */
import { useEffect, useState } from 'preact/hooks'
import { importBookmarks, listBookmarks, removeBookmark } from '../bookmarks.js'
import type { Bookmark } from '../bookmarks.js'
import { formatRoute } from '../route.js'
import { clientOf, errorText } from '../state.js'

export function BookmarksView() {
  const nodeId = clientOf().serverInfo.nodeId
  const [items, setItems] = useState<Bookmark[]>([])
  const [note, setNote] = useState('')
  const reload = (): void => { void listBookmarks(nodeId).then(setItems, (err: unknown) => setNote(errorText(err))) }
  useEffect(reload, [nodeId])
  const exportAll = (): void => {
    const blob = new Blob([JSON.stringify(items.map(({ path, at, note: text, createdAt }) => ({ path, at, note: text, createdAt })), null, 2)], { type: 'application/json' })
    const link = document.createElement('a')
    link.href = URL.createObjectURL(blob)
    link.download = 'memweave-bookmarks.json'
    link.click()
  }
  const importFile = (file: File | undefined): void => {
    if (file === undefined) return
    void file.text().then((text) => importBookmarks(nodeId, text)).then((n) => { setNote(`imported ${n} bookmarks`); reload() }, (err: unknown) => setNote(errorText(err)))
  }
  return (
    <div class="bookmarks">
      <h2>Bookmarks</h2>
      <div class="toolbar">
        <button onClick={exportAll}>Export JSON</button>
        <label class="button-like">Import JSON <input type="file" accept="application/json" onChange={(e) => importFile(e.currentTarget.files?.[0])} /></label>
        <span class="note">{note}</span>
      </div>
      {items.length === 0 ? <p class="dim">No bookmarks yet: in a hex view, press Bookmark at the cursor.</p> : (
        <table class="grid">
          <thead><tr><th>where</th><th>note</th><th>added</th><th /></tr></thead>
          <tbody>
            {items.map((b) => (
              <tr key={b.id}>
                <td class="mono"><a href={formatRoute({ path: b.path, ...(b.at === undefined ? {} : { at: b.at }) })}>{b.path}{b.at === undefined ? '' : `@${b.at}`}</a></td>
                <td>{b.note}</td>
                <td class="dim">{b.createdAt.slice(0, 19).replace('T', ' ')}</td>
                <td><button class="small" onClick={() => { void removeBookmark(b.id).then(reload) }}>remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}
