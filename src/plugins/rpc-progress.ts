/**
 * Progress of rpc calls in flight, per leaf identity: handlers report a
 * fraction (ctx.progress), readers of the leaf see every running call and
 * how the last one ended. Bounded: at most MAX_TRACKED leaves are kept.
 */
import { toMemweaveError } from '../errors/index.js'
import type { ProgressSink } from './plugin-backend.js'

const MAX_TRACKED = 256

interface Running {
  readonly startedAt: number
  fraction: number
  note: string
}

interface LeafCalls {
  readonly running: Map<number, Running>
  last: string | undefined
}

export class RpcProgress {
  private readonly leaves = new Map<string, LeafCalls>()
  private nextCall = 1

  /** Runs one call, recording its progress under the leaf identity. */
  async track<R>(identity: string, call: (sink: ProgressSink) => Promise<R>): Promise<R> {
    const calls = this.entry(identity)
    const id = this.nextCall++
    const state: Running = { startedAt: Date.now(), fraction: 0, note: '' }
    calls.running.set(id, state)
    const sink: ProgressSink = (fraction, note) => {
      if (Number.isFinite(fraction)) state.fraction = Math.min(1, Math.max(0, fraction))
      if (note !== undefined) state.note = String(note).slice(0, 200)
    }
    try {
      const result = await call(sink)
      calls.last = `call ${id}: done in ${Date.now() - state.startedAt} ms`
      return result
    } catch (err) {
      calls.last = `call ${id}: failed after ${Date.now() - state.startedAt} ms: ${toMemweaveError(err, 'plugin', 'rpc').message.slice(0, 300)}`
      throw err
    } finally {
      calls.running.delete(id)
    }
  }

  /** The text a reader of an rpc leaf sees: its description, calls in flight, the last outcome. */
  describe(identity: string, description: string): string {
    const calls = this.leaves.get(identity)
    const lines = [description === '' ? 'an rpc leaf: call it with a request (memweave rpc PATH JSON)' : description]
    const running = calls === undefined ? [] : [...calls.running]
    lines.push('', running.length === 0 ? 'no calls running' : 'running:')
    for (const [id, state] of running) {
      lines.push(`  call ${id}: ${(state.fraction * 100).toFixed(1)}% after ${Date.now() - state.startedAt} ms${state.note === '' ? '' : ` (${state.note})`}`)
    }
    if (calls?.last !== undefined) lines.push(`last: ${calls.last}`)
    return `${lines.join('\n')}\n`
  }

  private entry(identity: string): LeafCalls {
    let calls = this.leaves.get(identity)
    if (calls === undefined) {
      calls = { running: new Map(), last: undefined }
      this.leaves.set(identity, calls)
      if (this.leaves.size > MAX_TRACKED) {
        const idle = [...this.leaves].find(([, c]) => c.running.size === 0)
        if (idle !== undefined) this.leaves.delete(idle[0])
      }
    } else {
      // Most recently used last, so the idle one evicted first is the oldest.
      this.leaves.delete(identity)
      this.leaves.set(identity, calls)
    }
    return calls
  }
}
