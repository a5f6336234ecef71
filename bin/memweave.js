#!/usr/bin/env node
// The `memweave` command. Runs the compiled CLI (`npm run build` puts it in
// dist/); in a checkout without a build, or with MEMWEAVE_FROM_SOURCE=1, it
// runs the TypeScript sources through tsx instead.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/src/frontends/cli/main.js', import.meta.url)

if (existsSync(compiled) && process.env.MEMWEAVE_FROM_SOURCE !== '1') {
  await import(compiled.href)
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
