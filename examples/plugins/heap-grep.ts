/**
 * An example memweave plugin in TypeScript: on processes whose name starts
 * with "mw-plug", `heap.hex` streams the heap as hex lines, `grep` (rpc)
 * searches the heap for a string and reports progress, and `map-entries/N` is a
 * branch with one JSON leaf per mapping. It also logs objects appearing and
 * going away. Load it with: memweave plugin load /path/to/heap-grep.ts
 */
import { definePlugin } from 'memweave/plugins'
import type { PluginContext } from 'memweave/plugins'

async function heapRange(ctx: PluginContext): Promise<{ start: bigint; end: bigint } | undefined> {
  return (await ctx.maps()).find((m) => m.path === '[heap]')
}

export const plugin = definePlugin({
  name: 'heap-grep',
  version: '1.0.0',
  attachesTo: 'process',
  filter: { name: '/^mw-plug/' },
  description: 'heap hex dump and search',
  leaves: {
    'heap.hex': {
      read: async function* (ctx) {
        const heap = await heapRange(ctx)
        if (heap === undefined) return
        for (let at = heap.start; at < heap.end; at += 4096n) {
          const [page] = await ctx.read([{ addr: at, length: 4096 }])
          yield page?.ok === true ? `${at.toString(16)} ${Buffer.from(page.data).toString('hex')}\n` : `${at.toString(16)} unreadable\n`
        }
      },
    },
    grep: {
      description: 'call with a string; answers the heap addresses where it occurs',
      rpc: async (ctx, request) => {
        const needle = Buffer.from(String(request))
        const heap = await heapRange(ctx)
        const found: bigint[] = []
        if (heap === undefined) return found
        for (let at = heap.start; at < heap.end; at += 65536n) {
          const [chunk] = await ctx.read([{ addr: at, length: Number(heap.end - at < 65536n ? heap.end - at : 65536n) }])
          if (chunk?.ok === true) for (let i = Buffer.from(chunk.data).indexOf(needle); i >= 0; i = Buffer.from(chunk.data).indexOf(needle, i + 1)) found.push(at + BigInt(i))
          ctx.progress(Number(at - heap.start) / Number(heap.end - heap.start), `${found.length} found`)
        }
        return found
      },
    },
  },
  branches: {
    'map-entries': {
      list: async (ctx) => (await ctx.maps()).map((_, i) => String(i)),
      read: async (ctx, child) => {
        const entry = (await ctx.maps())[Number(child)]
        return `${JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}\n`
      },
    },
  },
  onEvent: (event) => { console.log(`event ${event.event} ${event.object.name} ${event.object.kind === 'process' ? event.object.pid : ''}`) },
})
