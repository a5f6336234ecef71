/**
 * A memweave plugin built against the published package: on every process
 * of a Linux OS, `heap.txt` says where the heap is and `heap-grep` (an rpc)
 * answers the heap addresses where a string occurs.
 *
 *   npm install memweave && npx tsc      # dist/plugin.js keeps `import … from 'memweave/plugins'`
 *   memweave plugin load $PWD/dist/plugin.js
 *   memweave cat os/g/processes/by-pid/94/heap.txt
 *
 * It runs sandboxed in its own process and sees only the process of each call.
 */
import { definePlugin } from 'memweave/plugins'
import type { PluginContext } from 'memweave/plugins'

const PAGE = 4096
/** Pages read per call, so progress shows on big heaps. */
const BATCH_BYTES = 1024 * 1024

async function heapOf(ctx: PluginContext): Promise<{ start: bigint; end: bigint } | undefined> {
  return (await ctx.maps()).find((m) => m.path === '[heap]')
}

export const plugin = definePlugin({
  name: 'heap-tools',
  version: '1.0.0',
  attachesTo: 'process',
  filter: { osKind: 'linux' },
  description: 'where the heap is, and a search in it',
  leaves: {
    'heap.txt': {
      read: async (ctx) => {
        const heap = await heapOf(ctx)
        const name = ctx.object.kind === 'process' ? `${ctx.object.name} (pid ${ctx.object.pid})` : ctx.object.name
        return heap === undefined ? `${name}: no heap\n` : `${name}: heap 0x${heap.start.toString(16)}-0x${heap.end.toString(16)}\n`
      },
    },
    'heap-grep': {
      description: 'call with a string; answers the heap addresses (hex) where it occurs',
      rpc: async (ctx, request) => {
        const needle = Buffer.from(String(request))
        const heap = await heapOf(ctx)
        const found: string[] = []
        if (heap === undefined || needle.length === 0) return found
        // Page-sized pieces: a page that is not there fails alone; runs of pages read are searched.
        let run: { start: bigint; pages: Uint8Array[] } | undefined
        const search = (): void => {
          if (run === undefined) return
          const data = Buffer.concat(run.pages)
          for (let i = data.indexOf(needle); i >= 0; i = data.indexOf(needle, i + 1)) found.push(`0x${(run.start + BigInt(i)).toString(16)}`)
          run = undefined
        }
        for (let at = heap.start; at < heap.end; at += BigInt(BATCH_BYTES)) {
          const pieces: { addr: bigint; length: number }[] = []
          for (let page = at; page < heap.end && page < at + BigInt(BATCH_BYTES); page += BigInt(PAGE)) pieces.push({ addr: page, length: PAGE })
          const results = await ctx.read(pieces)
          results.forEach((result, i) => {
            if (!result.ok) { search(); return }
            run ??= { start: pieces[i]?.addr ?? 0n, pages: [] }
            run.pages.push(result.data)
          })
          ctx.progress(Number(at - heap.start) / Number(heap.end - heap.start), `${found.length} found`)
        }
        search()
        return found
      },
    },
  },
})
