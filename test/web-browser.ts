/**
 * Headless Chromium for the web tests and bench: Debian's /usr/bin/chromium
 * driven by playwright-core (never a downloaded browser), in a fresh
 * profile directory, with everything that would phone home turned off.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { BrowserContext, Page } from 'playwright-core'

export const CHROMIUM = process.env['MEMWEAVE_CHROMIUM'] ?? '/usr/bin/chromium'
export const NO_CHROMIUM_REASON = `no Chromium at ${CHROMIUM} (bash scripts/setup.sh installs Debian's chromium)`

export function haveChromium(): boolean {
  return existsSync(CHROMIUM)
}

export interface Browser {
  readonly context: BrowserContext
  newPage(): Promise<Page>
  close(): Promise<void>
}

export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'memweave-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  return {
    context,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}
