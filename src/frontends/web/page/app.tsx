/**
 * The page's frame: a header (node, go-to box, theme), a side list of the
 * tree's top objects, and the view for the current route, chosen from the
 * path's shape and the leaf's metadata (views/pick-view.tsx).
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { Breadcrumbs } from './views/breadcrumbs.js'
import { HelpOverlay } from './views/help-overlay.js'
import { PickView } from './views/pick-view.js'
import { SideNav } from './views/side-nav.js'
import { navigate, route } from './route.js'
import { session, theme } from './state.js'

export function App() {
  const current = session.value
  const [help, setHelp] = useState(false)
  const goto = useRef<HTMLInputElement>(null)
  useEffect(() => {
    document.documentElement.dataset['theme'] = theme.value
  }, [theme.value])
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement
      if (event.ctrlKey && event.key.toLowerCase() === 'g') { event.preventDefault(); goto.current?.focus(); goto.current?.select(); return }
      if (typing) return
      if (event.key === '?') setHelp((h) => !h)
      else if (event.key === 'Escape') setHelp(false)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  if (current.state === 'no-ticket') {
    return <Notice title="No session">This page needs a one-time link. Run <code>memweave web</code> next to the daemon and open the link it prints (a link works once).</Notice>
  }
  if (current.state === 'connecting') return <Notice title="Connecting">Trading the ticket with the daemon…</Notice>
  const hello = current.state === 'open' ? current.client.serverInfo : undefined
  return (
    <div class="frame">
      <header class="top">
        <a class="brand" href="#/">memweave</a>
        <span class="node" title="node id">{hello?.nodeId.slice(0, 8) ?? ''}</span>
        <form class="goto" onSubmit={(e) => { e.preventDefault(); gotoTarget(goto.current?.value ?? '', e.timeStamp) }}>
          <input ref={goto} name="goto" placeholder="Go to: path, or address in the open view (Ctrl+G)" spellcheck={false} autocomplete="off" />
        </form>
        <select class="theme" value={theme.value} onChange={(e) => { theme.value = e.currentTarget.value as typeof theme.value }} title="theme">
          <option value="system">system</option><option value="light">light</option><option value="dark">dark</option>
        </select>
        <button class="help-button" onClick={() => setHelp(true)} title="keyboard help (?)">?</button>
        <span class={`conn ${current.state}`} title={current.state === 'closed' ? current.reason : 'connected'}>{current.state === 'open' ? 'connected' : 'disconnected'}</span>
      </header>
      {current.state === 'closed' ? <div class="banner error">Disconnected: {current.reason}. Run <code>memweave web</code> for a new link.</div> : null}
      <div class="body">
        <SideNav />
        <main class="main">
          <Breadcrumbs path={route.value.path} />
          {current.state === 'open' ? <PickView route={route.value} /> : null}
        </main>
      </div>
      {help ? <HelpOverlay onClose={() => setHelp(false)} /> : null}
    </div>
  )
}

/** The go-to box: an address (or module+off) applies to the open hex view; anything else is a tree path. */
function gotoTarget(text: string, askedAt: number): void {
  const value = text.trim()
  if (value === '') return
  const looksLikeAddress = /^(0x)?[0-9a-f]+$/i.test(value) || /^[^/]+\+(0x)?[0-9a-f]+$/i.test(value) || /^\[[a-z]+\]$/.test(value)
  if (looksLikeAddress && route.value.path !== '') { navigate({ path: route.value.path, at: value }, false, askedAt); return }
  const at = value.lastIndexOf('@')
  navigate(at > 0 ? { path: value.slice(0, at), at: value.slice(at + 1) } : { path: value }, false, askedAt)
}

function Notice(props: { title: string; children: preact.ComponentChildren }) {
  return <div class="notice"><h1>memweave</h1><h2>{props.title}</h2><p>{props.children}</p></div>
}
