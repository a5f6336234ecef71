/**
 * `npm run bench`: runs every bench/*.bench.ts (or those named on the
 * command line) one after another, stores each report with the machine in
 * bench/results/NAME.json, and rewrites the results table in bench/README.md.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { BenchReport } from './bench-report.js'
import { machine } from './bench-report.js'

const benchDir = path.dirname(new URL(import.meta.url).pathname)
const resultsDir = path.join(benchDir, 'results')
const wanted = process.argv.slice(2)
const files = readdirSync(benchDir).filter((f) => f.endsWith('.bench.ts') && (wanted.length === 0 || wanted.some((w) => f.startsWith(w)))).sort()

/**
 * The daemon's recommended malloc settings (deploy/memweave.service sets them too):
 * every read hands the caller fresh memory, and glibc's defaults return big
 * blocks to the kernel at once, so each 1 MiB read would fault its pages in again.
 */
const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824'

for (const file of files) {
  process.stderr.write(`[bench] ${file}\n`)
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(benchDir, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, env: { ...process.env, GLIBC_TUNABLES: process.env['GLIBC_TUNABLES'] ?? MALLOC_TUNABLES } })
  const lastLine = run.stdout.trim().split('\n').pop() ?? ''
  let report: BenchReport
  try {
    report = JSON.parse(lastLine) as BenchReport
  } catch (err) {
    process.stderr.write(`[bench] ${file} printed no report (exit ${run.status}): ${String(err)}\n`)
    process.exitCode = 1
    continue
  }
  writeFileSync(path.join(resultsDir, `${file.replace('.bench.ts', '')}.json`), `${JSON.stringify({ machine: machine(), ...report }, null, 2)}\n`)
}

// Rebuild the table from every stored result, so a partial run keeps the others.
const sections: string[] = []
for (const file of readdirSync(resultsDir).filter((f) => f.endsWith('.json')).sort()) {
  const stored = JSON.parse(readFileSync(path.join(resultsDir, file), 'utf8')) as BenchReport & { machine: Record<string, unknown> }
  const m = stored.machine
  const lines = [
    `### ${stored.bench}`,
    '',
    stored.description,
    '',
    `Machine: ${String(m.cpu)}, ${String(m.cores)} cores, ${String(m.memoryGiB)} GiB, Node ${String(m.node)}, kernel ${String(m.kernel)}; run ${String(m.date)}.`,
    '',
    '| metric | value | ceiling (same run) | ratio | goal |',
    '|---|---|---|---|---|',
    ...stored.rows.map((r) => `| ${r.metric} | ${r.value} ${r.unit} | ${r.ceiling === undefined ? '' : `${r.ceiling.what}: ${r.ceiling.value} ${r.unit}`} | ${r.ratio === undefined ? '' : `${Math.round(r.ratio * 100)}%`} | ${r.goal ?? ''} |`),
    ...(stored.notes ?? []).map((n) => `\n- ${n}`),
    '',
  ]
  sections.push(lines.join('\n'))
}
const readmePath = path.join(benchDir, 'README.md')
const header = existsSync(readmePath) ? readFileSync(readmePath, 'utf8').split('<!-- results -->')[0] ?? '' : ''
writeFileSync(readmePath, `${header.trimEnd()}\n\n<!-- results -->\n\n${sections.join('\n')}`)
process.stderr.write(`[bench] wrote ${readmePath}\n`)
