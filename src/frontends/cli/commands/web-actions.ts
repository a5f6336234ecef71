/**
 * `memweave web [VIEW]`: asks the running daemon for a one-time ticket and
 * prints the web page's URL with the ticket in its fragment (and opens it
 * where a desktop browser exists). The page trades the ticket at hello and
 * then removes it from the address bar; the ticket works once, for two
 * minutes, and is never logged. VIEW is a tree path to open (`os/guest`).
 * web-command.ts defines the command and loads this file when it runs.
 */
import { MemweaveError } from '../../../errors/index.js'
import { connectClient } from '../../../net/client.js'
import { browserUrl, openInBrowser } from '../../web/index.js'
import { Output } from '../output.js'
import type { GlobalOptions } from '../globals.js'
import { daemonUrl, resolveToken } from '../session.js'

export async function webCommand(globals: GlobalOptions, view: string | undefined, open: boolean): Promise<void> {
  const out = new Output(globals.json === true)
  const url = daemonUrl(globals)
  const client = await connectClient(url, { token: await resolveToken(globals.token, globals.tokenFile), connectTimeoutMs: globals.timeoutMs ?? 10_000, name: 'cli web' })
  try {
    const grant = await client.ticket()
    const page = grant.pages[0]
    if (page === undefined) throw new MemweaveError('config', 'unsupported', `the daemon at ${url} serves no web page: start it with serve --web and a TCP listener`)
    const link = browserUrl(page, grant.ticket, view)
    if (out.json) { out.line(JSON.stringify({ url: link, expiresInMs: grant.expiresInMs })); return }
    out.line(link)
    const opened = open ? openInBrowser(link) : undefined
    process.stderr.write(`memweave: one-time link, valid for ${Math.round(grant.expiresInMs / 1000)} s${opened?.opened === true ? ' (opened in your browser)' : ''}\n`)
  } finally {
    await client.disconnect()
  }
}
