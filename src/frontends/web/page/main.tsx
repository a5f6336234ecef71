/**
 * The page's entry: take the ticket out of the address bar, connect to the
 * daemon that served the page (same host, ws/wss), trade the ticket at
 * hello, then render the app. Without a ticket (a reload, a copied link)
 * the page says how to get a new one; it never stores a ticket anywhere.
 */
import { render } from 'preact'
import { App } from './app.js'
import { PageClient } from './protocol.js'
import { parseRoute, route, takeTicket } from './route.js'
import { session } from './state.js'
import './styles.css'

const root = document.getElementById('app')

async function start(): Promise<void> {
  document.documentElement.dataset['scriptMs'] = String(Math.round(performance.now()))
  const ticket = takeTicket()
  route.value = parseRoute(window.location.hash)
  if (root === null) return
  if (ticket === undefined) {
    session.value = { state: 'no-ticket' }
  } else {
    session.value = { state: 'connecting' }
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/`
    try {
      const client = await PageClient.connect(url, ticket)
      document.documentElement.dataset['helloMs'] = String(Math.round(performance.now()))
      session.value = { state: 'open', client }
      client.onClosed((reason) => { session.value = { state: 'closed', reason } })
    } catch (err) {
      session.value = { state: 'closed', reason: err instanceof Error ? err.message : String(err) }
    }
  }
  root.textContent = '' // the boot message goes; the app takes the whole container
  render(<App />, root)
}

void start()
