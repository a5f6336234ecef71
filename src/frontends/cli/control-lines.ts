/**
 * The lines the CLI writes to connector/new and os/new ("NAME [-c ON]
 * KIND[:ARGS]"), built from parts with quoting for words with spaces, and
 * the objects a config file or --with asks for.
 */
import { usageError } from './cli-errors.js'

/** One connector or OS to create, and where the request came from (for error messages). */
export interface ObjectSpec {
  readonly what: 'connector' | 'os'
  readonly name: string
  /** The OS a connector chains on, or the connector an OS opens. */
  readonly on: string | undefined
  readonly kind: string
  readonly args: string
  readonly source: string
}

/** Quotes a word the control-line reader would otherwise split (spaces, quotes). */
export function quoteWord(word: string): string {
  if (word.length > 0 && !/[\s"]/.test(word)) return word
  return `"${word.replace(/["\\]/g, (ch) => `\\${ch}`)}"`
}

export function createLine(name: string, on: string | undefined, spec: string): string {
  return [quoteWord(name), ...(on === undefined ? [] : ['-c', quoteWord(on)]), quoteWord(spec)].join(' ')
}

export function specLine(spec: ObjectSpec): string {
  return createLine(spec.name, spec.on, spec.args === '' ? spec.kind : `${spec.kind}:${spec.args}`)
}

/**
 * Parses one --with value: "connector NAME [-c OS] KIND[:ARGS]" or
 * "os NAME [-c CONNECTOR] KIND[:ARGS]". The node checks names and kinds;
 * this only finds the parts so objects can be created in order.
 */
export function parseWith(text: string): ObjectSpec {
  const source = `--with '${text}'`
  // ARGS is the rest of the line, so a path with spaces needs no quoting: 'connector d file:/my dumps/a.raw'.
  const match = /^\s*(\S+)\s+(\S+)(?:\s+-c\s+(\S+))?\s+([^\s:]+)(?::(.*?))?\s*$/.exec(text)
  const what = match?.[1] ?? text.trim().split(/\s+/)[0]
  if (what !== 'connector' && what !== 'os') throw usageError(`${source}: must start with 'connector' or 'os'`)
  const name = match?.[2]
  const kind = match?.[4]
  if (match === null || name === undefined || kind === undefined || name.startsWith('-') || kind.startsWith('-')) {
    throw usageError(`${source}: expected '${what} NAME ${what === 'os' ? '[-c CONNECTOR]' : '[-c OS]'} KIND[:ARGS]'`)
  }
  return { what, name, on: match[3], kind, args: match[5] ?? '', source }
}

/**
 * Orders objects so each comes after what it is created on (a connector
 * chained on an OS, an OS on a connector). Names with dots live on remote
 * nodes and are not ordered. A cycle or a missing name keeps the given order;
 * the node then reports the missing object by name.
 */
export function creationOrder(specs: readonly ObjectSpec[]): ObjectSpec[] {
  const pending = [...specs]
  const done = new Set<string>()
  const out: ObjectSpec[] = []
  const provides = (s: ObjectSpec): string => `${s.what}:${s.name}`
  const needs = (s: ObjectSpec): string | undefined => {
    if (s.on === undefined || s.on.includes('.')) return undefined
    const key = `${s.what === 'os' ? 'connector' : 'os'}:${s.on}`
    return specs.some((other) => provides(other) === key) ? key : undefined
  }
  while (pending.length > 0) {
    const index = pending.findIndex((s) => { const need = needs(s); return need === undefined || done.has(need) })
    const [next] = pending.splice(index < 0 ? 0 : index, 1)
    if (next === undefined) break
    out.push(next)
    done.add(provides(next))
  }
  return out
}

/** The objects to create when a node starts (createNode's `objects`), in creation order, each with its line. */
export function startObjects(specs: readonly ObjectSpec[]): { what: 'connector' | 'os'; line: string; source: string }[] {
  return creationOrder(specs).map((spec) => ({ what: spec.what, line: specLine(spec), source: spec.source }))
}

/** Whether an object is created on a peer's connector ('-c b.dump'): the node must then wait for its peers. */
export function onPeers(specs: readonly ObjectSpec[]): boolean {
  return specs.some((spec) => spec.on?.includes('.') === true)
}
