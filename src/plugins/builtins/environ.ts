/**
 * `environ` on processes whose OS can read environments: KEY=VALUE lines.
 * A backslash is written '\\' and a newline '\n', so every variable stays
 * on one line. This is the OS tree's former built-in environ leaf, moved
 * into the plugin mechanism (same output), so it is listed and filtered
 * like every other plugin.
 */
import { definePlugin } from '../plugin-api.js'

function escapeValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}

export function formatEnviron(environ: Readonly<Record<string, string>>): string {
  return Object.entries(environ).map(([key, value]) => `${escapeValue(key)}=${escapeValue(value)}\n`).join('')
}

export const environPlugin = definePlugin({
  name: 'environ',
  version: '1.0.0',
  attachesTo: 'process',
  filter: { features: ['environ'] },
  description: "a process's environment variables, where its OS can read them",
  leaves: {
    environ: { description: 'KEY=VALUE per line; \\ and newlines escaped', read: async (ctx) => formatEnviron(await ctx.environ()) },
  },
})
