/**
 * The requests of one connection that the `cancel` op can stop, and the rpc
 * that runs as one of them, reporting progress (events for clients that speak
 * 1.2) no more often than PROGRESS_INTERVAL_MS.
 */
import type { Tree } from '../tree/index.js'
import type { ProgressEvent, RequestOf } from './messages.js'

/** Progress events for one request are at least this far apart (the last one always goes). */
const PROGRESS_INTERVAL_MS = 100

export class ConnectionRequests {
  /** Requests that can be cancelled, by id. */
  private readonly running = new Map<number, AbortController>()

  constructor(
    private readonly tree: Tree,
    private readonly owner: string,
    /** Whether the client can be told of progress now (it knows the event and the connection is open). */
    private readonly progressWanted: () => boolean,
    private readonly tellProgress: (event: ProgressEvent) => void,
  ) {}

  /** Runs a request the `cancel` op can stop (through its signal). */
  async cancellable<T>(id: number, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    this.running.set(id, controller)
    try {
      return await job(controller.signal)
    } finally {
      this.running.delete(id)
    }
  }

  /** An rpc that can be cancelled (the `cancel` op) and report progress (events for clients that speak 1.2). */
  async rpc(request: RequestOf<'rpc'>): Promise<unknown> {
    let lastProgressMs = 0
    const progress = (done: number, total: number, detail?: Readonly<Record<string, unknown>>): void => {
      const now = performance.now()
      // At most one event per PROGRESS_INTERVAL_MS, and none for clients that do not know the event.
      if (!this.progressWanted() || (now - lastProgressMs < PROGRESS_INTERVAL_MS && done < total)) return
      lastProgressMs = now
      this.tellProgress({ event: 'progress', id: request.id, done, total, ...(detail === undefined ? {} : { detail }) })
    }
    return this.cancellable(request.id, (signal) => this.tree.rpc(request.handle, request.request, this.owner, { signal, progress }))
  }

  /** Stops a running request, if it is still running and can be stopped. */
  cancel(target: number): void {
    this.running.get(target)?.abort()
  }

  /** Stops every running request (the connection closed). */
  abortAll(): void {
    for (const controller of this.running.values()) controller.abort()
  }
}
