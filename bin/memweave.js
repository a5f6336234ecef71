#!/usr/bin/env node
// The `memweave` command. Runs the compiled CLI (`npm run build` puts it in
// dist/); in a checkout without a build, or with MEMWEAVE_FROM_SOURCE=1, it
// runs the TypeScript sources through tsx instead.
//
// Client commands (ls, cat, ps, …) start faster from the bundle in dist/cli
// (scripts/build-cli.ts), when it is there and newer than the last tsc run;
// the daemon and the long-running frontends (serve, mount, gdbserver, web,
// --embedded) always run dist/src. MEMWEAVE_BUNDLE=0 turns the bundle off.
import { existsSync, statSync } from 'node:fs'

const compiled = new URL('../dist/src/frontends/cli/main.js', import.meta.url)
const bundle = new URL('../dist/cli/memweave.js', import.meta.url)

/** Commands the bundle holds; anything else (or an unknown word) runs dist/src. */
const BUNDLED = new Set(['ls', 'stat', 'cat', 'read', 'write', 'rpc', 'ps', 'maps', 'modules', 'dump', 'threads', 'registers', 'sys', 'connector', 'os', 'peer', 'plugin', 'token', 'help'])
/** Program options that take a value (program.ts), so the command word is found after them. */
const WITH_VALUE = new Set(['--daemon', '--token', '--token-file', '--config', '--with', '--log-level', '--timeout'])

function commandWord(args) {
  for (let i = 0; i < args.length; i++) {
    const word = args[i]
    if (word === '--') return word
    if (!word.startsWith('-')) return word
    if (WITH_VALUE.has(word)) i++
  }
  return undefined // --version, --help
}

function mtime(url) {
  try {
    return statSync(url).mtimeMs
  } catch {
    return 0
  }
}

function runsBundled(args) {
  if (process.env.MEMWEAVE_BUNDLE === '0' || args.includes('--embedded')) return false
  const word = commandWord(args)
  if (word !== undefined && !BUNDLED.has(word)) return false
  // tsc rewrites its build info on every run: a bundle older than that may hold older code.
  const built = mtime(bundle)
  return built > 0 && built >= mtime(new URL('../dist/.tsbuildinfo', import.meta.url)) && built >= mtime(new URL('../dist/.tsbuildinfo-build', import.meta.url))
}

if (existsSync(compiled) && process.env.MEMWEAVE_FROM_SOURCE !== '1') {
  await import((runsBundled(process.argv.slice(2)) ? bundle : compiled).href)
} else {
  let tsx
  try {
    tsx = await import('tsx/esm/api')
  } catch {
    process.stderr.write("memweave: no build in dist/ (run 'npm run build') and tsx is not installed to run the sources\n")
    process.exit(1)
  }
  tsx.register()
  await import(new URL('../src/frontends/cli/main.ts', import.meta.url).href)
}
