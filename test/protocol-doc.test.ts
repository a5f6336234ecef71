/**
 * docs/protocol.md is the reference other-language clients are written
 * from (python/ is), so it must keep up with src/net/messages.ts: every op
 * with each of its request fields in the op's own section, every result
 * field of hello, every event, every close code, every error origin and
 * kind with its number, and the current version in the title.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { ERROR_KINDS, ERROR_ORIGINS } from '../src/errors/index.js'
import { CLOSE_CODES, OPS, PROTOCOL_VERSION, formatVersion } from '../src/net/index.js'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..')
const DOC = readFileSync(join(REPO, 'docs', 'protocol.md'), 'utf8')
const MESSAGES = readFileSync(join(REPO, 'src', 'net', 'messages.ts'), 'utf8')

/** The text of `interface NAME { … }` in messages.ts (its body, braces balanced). */
function interfaceBody(name: string): string {
  const start = MESSAGES.indexOf(`interface ${name} {`)
  assert.ok(start >= 0, `messages.ts declares ${name}`)
  let depth = 0
  for (let i = MESSAGES.indexOf('{', start); i < MESSAGES.length; i++) {
    if (MESSAGES[i] === '{') depth++
    if (MESSAGES[i] === '}' && --depth === 0) return MESSAGES.slice(MESSAGES.indexOf('{', start) + 1, i)
  }
  throw new Error(`unbalanced ${name}`)
}

/** Top-level members of an interface body: name → its type text. */
function members(body: string): Map<string, string> {
  const out = new Map<string, string>()
  let depth = 0
  let current: { name: string; from: number } | undefined
  const code = body.replace(/\/\*\*[\s\S]*?\*\//g, (c) => ' '.repeat(c.length)).replace(/\/\/[^\n]*/g, (c) => ' '.repeat(c.length))
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]
    if (ch === '{' || ch === '<' || ch === '(') depth++
    else if (ch === '}' || ch === '>' || ch === ')') depth--
    if (depth !== 0) continue
    const match = /^\s*(?:readonly\s+)?([A-Za-z]+)\??:/.exec(code.slice(i))
    if (match !== null && (i === 0 || code[i - 1] === '\n')) {
      if (current !== undefined) out.set(current.name, code.slice(current.from, i))
      current = { name: match[1] ?? '', from: i + match[0].length }
      i += match[0].length - 1
    }
  }
  if (current !== undefined) out.set(current.name, code.slice(current.from))
  return out
}

function fieldNames(type: string): string[] {
  return [...type.matchAll(/readonly\s+([A-Za-z]+)\??:/g)].map((m) => m[1] ?? '')
}

/** The section of the document under `### \`op\`` up to the next heading. */
function section(op: string): string {
  const heading = `### \`${op}\``
  const start = DOC.indexOf(heading)
  if (start < 0) return ''
  const next = DOC.slice(start + heading.length).search(/\n##/)
  return next < 0 ? DOC.slice(start) : DOC.slice(start, start + heading.length + next)
}

test('every op has its own section naming each of its request fields', () => {
  const bodies = members(interfaceBody('RequestBodies'))
  assert.deepEqual([...bodies.keys()].sort(), [...OPS].sort(), 'RequestBodies and OPS agree')
  const missing: string[] = []
  for (const op of OPS) {
    const text = section(op)
    if (text === '') { missing.push(`section for ${op}`); continue }
    for (const name of fieldNames(bodies.get(op) ?? '')) if (!text.includes(`\`${name}\``)) missing.push(`${op}.${name}`)
  }
  assert.deepEqual(missing, [])
})

test('the hello result and the limits are described field by field', () => {
  const missing = [...members(interfaceBody('ServerHello')).keys(), ...members(interfaceBody('WireLimits')).keys()]
    .filter((name) => !section('hello').includes(name))
  assert.deepEqual(missing, [])
})

test('every event and every close code is in the document', () => {
  const events = [...MESSAGES.matchAll(/readonly event: '([^']+)'/g)].map((m) => m[1] ?? '')
  assert.ok(events.length >= 2)
  const eventsSection = DOC.slice(DOC.indexOf('\n## Events'), DOC.indexOf('\n## Errors'))
  assert.deepEqual(events.filter((e) => !eventsSection.includes(`| \`${e}\` |`)), [])
  assert.deepEqual(Object.entries(CLOSE_CODES).filter(([name, code]) => !DOC.includes(`| \`${name}\` | ${code} |`)).map(([name]) => name), [])
})

test('every error origin and kind is in the tables with its number', () => {
  const missing = [
    ...Object.entries(ERROR_ORIGINS).filter(([name, n]) => !DOC.includes(`| \`${name}\` | ${n} |`)).map(([name]) => `origin ${name}`),
    ...Object.entries(ERROR_KINDS).filter(([name, n]) => !DOC.includes(`| \`${name}\` | ${n} |`)).map(([name]) => `kind ${name}`),
  ]
  assert.deepEqual(missing, [])
})

test('the document is about the current protocol version', () => {
  assert.ok(DOC.startsWith(`# The memweave protocol (version ${formatVersion(PROTOCOL_VERSION)})`))
})
