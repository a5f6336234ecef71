/**
 * processes/…/PID/environ: the environment as KEY=VALUE lines, for OS kinds
 * that can read it. A backslash in a value is written '\\' and a newline
 * '\n', so every variable stays on one line.
 */
import { generatedLeaf } from '../tree/index.js'
import type { LeafMapping } from '../tree/index.js'
import { PROCESS_OBJECT } from './os-objects.js'
import type { ProcessObject } from './os-objects.js'

function escapeValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}

export function formatEnviron(environ: Readonly<Record<string, string>>): string {
  return Object.entries(environ).map(([key, value]) => `${escapeValue(key)}=${escapeValue(value)}\n`).join('')
}

export const processEnvironLeaf: LeafMapping<ProcessObject> = {
  on: PROCESS_OBJECT,
  name: 'environ',
  appliesTo: (value) => value.process.environ !== undefined,
  leaf: (object) => generatedLeaf({
    identity: `${object.identity}/environ`,
    lifetime: object.lifetime,
    generate: async () => formatEnviron((await object.value.process.environ?.()) ?? {}),
  }),
}
