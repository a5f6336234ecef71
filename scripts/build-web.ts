/**
 * Builds the web page (src/frontends/web/page/) into dist/web/: one ES
 * module bundle (preact, signals, msgpackr and our code; no CDN), its
 * stylesheet, and index.html. Run by `npm run build` after tsc; the daemon
 * serves the result with `serve --web`.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const PAGE = join(REPO, 'src', 'frontends', 'web', 'page')
const OUT = join(REPO, 'dist', 'web')

await rm(OUT, { recursive: true, force: true })
await mkdir(OUT, { recursive: true })
await build({
  entryPoints: { app: join(PAGE, 'main.tsx') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: process.env.MEMWEAVE_WEB_DEBUG !== '1',
  sourcemap: process.env.MEMWEAVE_WEB_DEBUG === '1' ? 'linked' : false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: OUT,
  logLevel: 'warning',
  legalComments: 'none',
})
await copyFile(join(PAGE, 'index.html'), join(OUT, 'index.html'))
process.stdout.write(`web page built in ${OUT}\n`)
