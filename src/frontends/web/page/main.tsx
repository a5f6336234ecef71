/**
 * The page's entry: connect to the daemon that served the page (same host,
 * ws/wss) with the ticket from the fragment, take the ticket out of the
 * address bar (in the same task), trade the ticket at hello, then render
 * the app. Without a ticket (a reload, a copied link) the page says how to
 * get a new one; it never stores a ticket anywhere.
 */
import { render } from 'preact'
import { App } from './app.js'
import { PageClient } from './protocol.js'
import { parseRoute, route, takeTicket, ticketIn } from './route.js'
import { session } from './state.js'
import { PROCESSES_PATH, prefetchProcesses } from './views/processes-view.js'
import './styles.css'

const root = document.getElementById('app')

async function start(): Promise<void> {
  document.documentElement.dataset['scriptMs'] = String(Math.round(performance.now()))
  // The WebSocket opens first (with the ticket read from the fragment), then the ticket leaves the address bar, in
  // the same task (nothing else runs in between): the connection is under way while the address bar is rewritten
  // (milliseconds of history work) and the page starts.
  const found = ticketIn(window.location.hash)
  const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/`
  const connecting = found === undefined || root === null ? undefined : PageClient.connect(url, found.ticket)
  takeTicket()
  route.value = parseRoute(window.location.hash)
  if (root === null) return
  if (connecting === undefined) {
    session.value = { state: 'no-ticket' }
  } else {
    session.value = { state: 'connecting' }
    try {
      const client = await connecting
      document.documentElement.dataset['helloMs'] = String(Math.round(performance.now()))
      session.value = { state: 'open', client }
      // A process table's requests go out in this turn, not after the app's first render and frame.
      const table = PROCESSES_PATH.exec(route.value.path)
      if (table?.[1] !== undefined) prefetchProcesses(table[1])
      client.onClosed((reason) => { session.value = { state: 'closed', reason } })
    } catch (err) {
      session.value = { state: 'closed', reason: err instanceof Error ? err.message : String(err) }
    }
  }
  root.textContent = '' // the boot message goes; the app takes the whole container
  render(<App />, root)
}

void start()
