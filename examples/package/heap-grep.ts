/**
 * Lists the processes of a memory dump and greps one process's heap, with
 * the memweave package and no daemon (the node runs in this program).
 *
 *   npm install memweave && npx tsc && node dist/heap-grep.js /data/vm.elf 94 MEMWEAVE
 *
 * To use a running daemon instead, replace createNode() by connect()
 * (and openConnector/openOs by the client helpers of the same names).
 */
import { createNode, hex, MemweaveError, osView } from 'memweave'
import type { ProcessView } from 'memweave'

const PAGE = 4096

/**
 * Every address in the process's [heap] where `needle` occurs. The heap is
 * read in one batch of page-sized pieces, so a page that is not there
 * (never touched, swapped out) fails alone; runs of pages read are searched.
 */
async function grepHeap(proc: ProcessView, needle: Buffer): Promise<bigint[]> {
  const heap = (await proc.maps()).find((m) => m.path === '[heap]')
  if (heap === undefined) return []
  const pieces: { addr: bigint; length: number }[] = []
  for (let at: bigint = heap.start; at < heap.end; at += BigInt(PAGE)) pieces.push({ addr: at, length: PAGE })
  const results = await proc.readMany(pieces)
  const found: bigint[] = []
  let run: { start: bigint; pages: Uint8Array[] } | undefined
  const search = (): void => {
    if (run === undefined) return
    const data = Buffer.concat(run.pages)
    for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + 1)) found.push(run.start + BigInt(at))
    run = undefined
  }
  results.forEach((result, i) => {
    if (!result.ok) { search(); return }
    if (run === undefined) run = { start: pieces[i]?.addr ?? 0n, pages: [] }
    run.pages.push(result.data)
  })
  search()
  return found
}

async function main(): Promise<void> {
  const [dump, pidText, text] = process.argv.slice(2)
  if (dump === undefined || pidText === undefined || text === undefined) {
    process.stderr.write('usage: heap-grep DUMP PID TEXT\n')
    process.exitCode = 2
    return
  }
  const node = await createNode()
  try {
    await node.openConnector('dump', `file:${dump}`)
    await node.openOs('g', 'linux', { connector: 'dump' })
    const g = osView(node.client(), 'g')
    for (const p of await g.processes()) console.log(`${String(p.pid).padStart(6)}  ${p.name ?? ''}`)
    const proc = g.process(Number(pidText))
    try {
      for (const addr of await grepHeap(proc, Buffer.from(text))) console.log(`${pidText} heap ${hex(addr)}`)
    } finally {
      await proc.close()
    }
  } catch (err) {
    if (!(err instanceof MemweaveError)) throw err
    process.stderr.write(`heap-grep: ${err.message} (${err.kind})\n`)
    process.exitCode = 1
  } finally {
    await node.close()
  }
}

await main()
