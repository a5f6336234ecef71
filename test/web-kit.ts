/**
 * The web tests' setup: `memweave serve --web` on a guest fixture dump (a
 * real daemon on a TCP port and a private unix socket), one-time links from
 * `memweave web` as a user gets them, and screenshots kept under
 * .cache/web-screenshots/ (the best ones are copied into docs/).
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { REPO_ROOT, runCli, startDaemon } from './cli-kit.js'
import type { RunningDaemon } from './cli-kit.js'

export const SCREENSHOTS = process.env['MEMWEAVE_SCREENSHOTS'] ?? join(REPO_ROOT, '.cache', 'web-screenshots')

export interface WebDaemon {
  readonly daemon: RunningDaemon
  /** ws://127.0.0.1:PORT */
  readonly tcp: string
  /** unix:/… (no token needed: owner only) */
  readonly unix: string
  /** http://127.0.0.1:PORT/ */
  readonly page: string
  /** The daemon's own state directory (its token store), for CLI runs that manage tokens. */
  readonly env: Record<string, string>
  /** The daemon's auto token (an admin token for TCP clients), from its file in that state directory. */
  token(): Promise<string>
  /** A fresh one-time link from `memweave web [VIEW]`. */
  link(view?: string): Promise<string>
  stop(): Promise<void>
}

export async function startWebDaemon(withLines: readonly string[], extraArgs: readonly string[] = []): Promise<WebDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'memweave-web-'))
  const unix = `unix:${join(dir, 'daemon.sock')}`
  const env = { MEMWEAVE_STATE_DIR: join(dir, 'state') }
  const daemon = await startDaemon(['--web', '--listen', 'ws://127.0.0.1:0', '--listen', unix, ...withLines.flatMap((w) => ['--with', w]), ...extraArgs], { env })
  const tcp = daemon.addresses.find((a) => a.startsWith('ws://')) ?? ''
  const page = `${tcp.replace(/^ws:/, 'http:')}/`
  return {
    daemon, tcp, unix, page, env,
    token: async () => (await readFile(join(dir, 'state', `tcp-${new URL(tcp).port}.token`), 'utf8')).trim(),
    link: async (view) => {
      const result = await runCli(['--daemon', unix, 'web', '--no-open', ...(view === undefined ? [] : [view])], { env })
      if (result.code !== 0) throw new Error(`memweave web failed: ${result.stderr}`)
      return result.stdout.trim()
    },
    stop: async () => {
      if (daemon.child.exitCode === null) await daemon.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true })
  const path = join(SCREENSHOTS, `${name}.png`)
  await page.screenshot({ path })
  return path
}
