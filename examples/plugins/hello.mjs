// A minimal memweave plugin: two leaves on every process named "sleep".
// Load it with: memweave plugin load /path/to/hello.mjs
export const plugin = {
  name: 'hello', version: '1.0.0', attachesTo: 'process', filter: { name: 'sleep' },
  leaves: {
    'hello.txt': { read: (ctx) => `hello from ${ctx.object.name} (pid ${ctx.object.pid} on ${ctx.object.osName})\n` },
    'first-bytes': {
      read: async (ctx) => {
        const [first] = await ctx.ranges()
        const [result] = await ctx.read([{ addr: first.start, length: 16 }])
        return result.ok ? `${Buffer.from(result.data).toString('hex')}\n` : `error: ${result.error.message}\n`
      },
    },
  },
}
