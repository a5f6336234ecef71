// A plugin built against the installed package: tsc keeps its import of memweave/plugins.
import { definePlugin } from 'memweave/plugins'
import type { PluginContext } from 'memweave/plugins'

async function firstBytes(ctx: PluginContext, addr: bigint): Promise<string> {
  const [piece] = await ctx.read([{ addr, length: 16 }])
  return piece?.ok === true ? `${Buffer.from(piece.data).toString('hex')}\n` : `error: ${piece?.error.message ?? 'no result'}\n`
}

export const plugin = definePlugin({
  name: 'package-check',
  version: '1.0.0',
  attachesTo: 'process',
  filter: { name: '/^mw-pattern/' },
  leaves: {
    'hello.txt': { read: (ctx) => `hello from pid ${ctx.object.pid}\n` },
    peek: { rpc: async (ctx, request) => firstBytes(ctx, BigInt(String(request))) },
  },
})
