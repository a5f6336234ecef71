/**
 * The /proc state letter for each combination fs/proc/array.c distinguishes.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { taskStateLetter } from './task-state.js'

describe('taskStateLetter', () => {
  it('maps __state and exit_state like task_state_index()', () => {
    const cases: [number, number, string][] = [
      [0x0, 0, 'R'],
      [0x1, 0, 'S'],
      [0x2, 0, 'D'],
      [0x102, 0, 'D'], // TASK_KILLABLE
      [0x402, 0, 'I'], // TASK_IDLE: uninterruptible + noload
      [0x4, 0, 'T'],
      [0x8, 0, 't'],
      [0x40, 0, 'P'],
      [0x1000, 0, 'D'], // rtlock wait shows as uninterruptible
      [0x80, 0x20, 'Z'], // TASK_DEAD with EXIT_ZOMBIE
      [0x80, 0x10, 'X'],
      [0x2001, 0, 'S'], // TASK_FREEZABLE is not reported
    ]
    for (const [state, exitState, letter] of cases) assert.equal(taskStateLetter(state, exitState), letter, `state 0x${state.toString(16)} exit 0x${exitState.toString(16)}`)
  })
})
