/**
 * Bookmarks with notes, kept in the browser's IndexedDB per daemon node
 * (never on the daemon, never a credential), exported and imported as JSON.
 */
export interface Bookmark {
  readonly id: string
  readonly nodeId: string
  readonly path: string
  readonly at?: string
  readonly note: string
  readonly createdAt: string
}

const DB = 'memweave'
const STORE = 'bookmarks'

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1)
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: 'id' })
      store.createIndex('nodeId', 'nodeId')
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('cannot open IndexedDB'))
  })
}

async function run<T>(mode: IDBTransactionMode, job: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb()
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = job(db.transaction(STORE, mode).objectStore(STORE))
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'))
    })
  } finally {
    db.close()
  }
}

export async function listBookmarks(nodeId: string): Promise<Bookmark[]> {
  const all = await run('readonly', (store) => store.index('nodeId').getAll(nodeId))
  return (all as Bookmark[]).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
}

export async function addBookmark(entry: Omit<Bookmark, 'id' | 'createdAt'>): Promise<void> {
  await run('readwrite', (store) => store.put({ ...entry, id: crypto.randomUUID(), createdAt: new Date().toISOString() }))
}

export async function removeBookmark(id: string): Promise<void> {
  await run('readwrite', (store) => store.delete(id))
}

/** Imports bookmarks from exported JSON into this node; returns how many were taken. Fields are checked, nothing else is kept. */
export async function importBookmarks(nodeId: string, text: string): Promise<number> {
  const parsed: unknown = JSON.parse(text)
  const list = Array.isArray(parsed) ? parsed : []
  let count = 0
  for (const item of list) {
    if (typeof item !== 'object' || item === null) continue
    const path = 'path' in item && typeof item.path === 'string' ? item.path.slice(0, 4096) : undefined
    if (path === undefined) continue
    const at = 'at' in item && typeof item.at === 'string' ? item.at.slice(0, 256) : undefined
    const note = 'note' in item && typeof item.note === 'string' ? item.note.slice(0, 10_000) : ''
    await addBookmark({ nodeId, path, note, ...(at === undefined ? {} : { at }) })
    count++
  }
  return count
}
