/**
 * Plugin filters: which objects a plugin's leaves appear on. A filter is
 * data (it crosses the sandbox pipe), checked here and compiled into a
 * predicate over object descriptors. Patterns written /source/flags are
 * regular expressions; those that could backtrack catastrophically
 * (quantified groups holding quantifiers, backreferences) are refused,
 * since the daemon evaluates them on every listing.
 */
import { MemweaveError } from '../errors/index.js'
import { ATTACH_KINDS, OBJECT_FEATURES } from './plugin-api.js'
import type { AttachKind, ObjectDescriptor, ObjectFeature, PluginFilter } from './plugin-api.js'

type StringField = 'name' | 'osName' | 'osKind' | 'connectorKind'

/** Filter fields that mean something for each kind of object. */
const FIELDS: Readonly<Record<AttachKind, readonly (StringField | 'features')[]>> = {
  process: ['name', 'osName', 'osKind', 'features'],
  module: ['name', 'osName', 'osKind', 'features'],
  os: ['name', 'osName', 'osKind', 'features'],
  connector: ['name', 'connectorKind', 'features'],
}

const MAX_PATTERN_LENGTH = 200

export function isAttachKind(value: unknown): value is AttachKind {
  return typeof value === 'string' && (ATTACH_KINDS as readonly string[]).includes(value)
}

function isFeature(value: unknown): value is ObjectFeature {
  return typeof value === 'string' && (OBJECT_FEATURES as readonly string[]).includes(value)
}

function filterError(message: string): MemweaveError {
  return new MemweaveError('plugin', 'invalid_argument', `filter: ${message}`)
}

/**
 * Why a regular expression may take exponential time (a quantified group
 * containing a quantifier, or a backreference), or undefined when it is
 * linear enough to run on every listing or memory chunk.
 */
export function unsafeRegexReason(source: string): string | undefined {
  const groups: boolean[] = []
  let quantified = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') {
      if (/[1-9k]/.test(source[i + 1] ?? '')) return `/${source}/ uses a backreference`
      i++
      continue
    }
    if (c === '[') {
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1
      continue
    }
    if (c === '(') { groups.push(quantified); quantified = false; continue }
    if (c === '*' || c === '+' || c === '{') { quantified = true; continue }
    if (c === ')') {
      const inner: boolean = quantified
      quantified = groups.pop() ?? false
      const next = source[i + 1]
      if (inner && (next === '*' || next === '+' || next === '{')) return `/${source}/ repeats a group that repeats (nested quantifiers)`
      quantified = quantified || inner
    }
  }
  return undefined
}

/** Compiles one filter string: exact match, or /source/flags as a regular expression. */
export function compilePattern(spec: string): (value: string | undefined) => boolean {
  if (spec.length > MAX_PATTERN_LENGTH) throw filterError(`pattern of ${spec.length} characters exceeds ${MAX_PATTERN_LENGTH}`)
  const regex = /^\/(.+)\/([imsu]*)$/s.exec(spec)
  if (regex === null) return (value) => value === spec
  const [, source = '', flags = ''] = regex
  const unsafe = unsafeRegexReason(source)
  if (unsafe !== undefined) throw filterError(`pattern ${unsafe}`)
  let compiled: RegExp
  try {
    compiled = new RegExp(source, flags)
  } catch (err) {
    throw new MemweaveError('plugin', 'invalid_argument', `filter: /${source}/${flags} is not a valid regular expression`, { cause: err })
  }
  return (value) => value !== undefined && compiled.test(value)
}

/** Checks a filter received from a plugin; unknown or inapplicable fields are errors, so typos do not widen a filter. */
export function checkFilter(raw: unknown, attachesTo: AttachKind): PluginFilter {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw filterError('must be an object')
  const allowed = FIELDS[attachesTo]
  const out: { -readonly [K in keyof PluginFilter]: PluginFilter[K] } = {}
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue
    if (key === 'features' && allowed.includes('features')) {
      if (!Array.isArray(value) || !value.every(isFeature)) throw filterError(`features must be a list of ${OBJECT_FEATURES.join(', ')}`)
      out.features = [...value]
      continue
    }
    const field = allowed.find((f): f is StringField => f === key && f !== 'features')
    if (field === undefined) throw filterError(`'${key}' is not a filter field for ${attachesTo} objects (fields: ${allowed.join(', ')})`)
    if (typeof value !== 'string' || value.length === 0) throw filterError(`'${key}' must be a non-empty string`)
    compilePattern(value)
    out[field] = value
  }
  return out
}

function fieldOf(descriptor: ObjectDescriptor, field: StringField): string | undefined {
  switch (field) {
    case 'name': return descriptor.name
    case 'osName': return 'osName' in descriptor ? descriptor.osName : undefined
    case 'osKind': return 'osKind' in descriptor ? descriptor.osKind : undefined
    case 'connectorKind': return descriptor.kind === 'connector' ? descriptor.connectorKind : undefined
  }
}

/** A predicate over descriptors: every given field must match. */
export function compileFilter(filter: PluginFilter): (descriptor: ObjectDescriptor) => boolean {
  const tests: ((d: ObjectDescriptor) => boolean)[] = []
  for (const field of ['name', 'osName', 'osKind', 'connectorKind'] as const) {
    const spec = filter[field]
    if (spec === undefined) continue
    const matches = compilePattern(spec)
    tests.push((d) => matches(fieldOf(d, field)))
  }
  const features = filter.features ?? []
  if (features.length > 0) tests.push((d) => features.every((f) => d.features.includes(f)))
  return (d) => tests.every((t) => t(d))
}
