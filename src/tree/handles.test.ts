import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { BufferMemory } from '../mem/index.js'
import { HandleTable } from './handles.js'
import { memLeaf } from './leaves.js'
import { Lifetime } from './lifetime.js'

interface RaceOutcome { ops: number; failures: string[]; handlesLeft: number }

/** A small seeded generator, so a failing interleaving can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

async function yieldTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve()
}

/** OWNERS owners open, read and close one shared leaf, at random offsets in their turns, until targetOps. */
async function openCloseRace(targetOps: number): Promise<RaceOutcome> {
  // The staleness check is asynchronous (a file stat, a process probe): that await is
  // where another owner's close used to release the handle an open had just found.
  const lifetime = new Lifetime("object 'shared'", undefined, async () => { await Promise.resolve(); return undefined })
  const leaf = memLeaf({ identity: 'shared/mem', lifetime, mem: new BufferMemory(new Uint8Array(4096).fill(7)) })
  const handles = new HandleTable()
  const random = seeded(14)
  const OWNERS = 32
  let ops = 0
  const failures: string[] = []
  const worker = async (owner: string): Promise<void> => {
    while (ops < targetOps && failures.length < 3) {
      const { handle } = await handles.open('data/mem', leaf, owner)
      await yieldTurns(Math.floor(random() * 3))
      try {
        const entry = await handles.get(handle, owner)
        const [piece] = await (entry.opened.read?.([{ addr: 0n, length: 8 }]) ?? Promise.resolve([]))
        if (piece === undefined || !piece.ok) failures.push(`${owner}: the read failed`)
      } catch (err) {
        failures.push(`${owner}: read after open: ${String(err)}`)
      }
      await yieldTurns(Math.floor(random() * 3))
      await handles.close(handle, owner).catch((err: unknown) => { failures.push(`${owner}: close: ${String(err)}`) })
      ops += 3
    }
  }
  await Promise.all(Array.from({ length: OWNERS }, (_, i) => worker(`conn-${i}`)))
  return { ops, failures, handlesLeft: handles.size }
}

const CHILD_ENV = 'MEMWEAVE_HANDLE_RACE_CHILD'

if (process.env[CHILD_ENV] !== undefined) {
  // The loop runs in a child: node's test runner tracks async context, which makes
  // a million promise turns cost ten times the CPU (the machine is shared).
  process.send?.(await openCloseRace(Number(process.env[CHILD_ENV])))
} else {
  test('many owners opening, reading and closing one leaf never see a handle vanish under them (1M operations)', async () => {
    const TARGET_OPS = 1_000_000
    const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, [CHILD_ENV]: String(TARGET_OPS) } })
    const [outcome] = (await once(child, 'message')) as [RaceOutcome]
    await once(child, 'exit')
    assert.deepEqual(outcome.failures, [])
    assert.ok(outcome.ops >= TARGET_OPS, `${outcome.ops} operations`)
    assert.equal(outcome.handlesLeft, 0, 'every handle is released once all owners closed')
  })
}
