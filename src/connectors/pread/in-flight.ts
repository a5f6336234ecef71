/**
 * Counts the reads and writes using a file descriptor, so a connector's
 * close can wait for them before the descriptor goes (a read on a closed,
 * then reused, fd would read some other file).
 */
export class InFlight {
  private count = 0
  private readonly idleWaiters: (() => void)[] = []

  async run<T>(work: () => Promise<T>): Promise<T> {
    this.count++
    try {
      return await work()
    } finally {
      this.count--
      if (this.count === 0) for (const wake of this.idleWaiters.splice(0)) wake()
    }
  }

  /** Counts as in flight until the returned function is called (once; later calls do nothing). */
  hold(): () => void {
    this.count++
    let held = true
    return () => {
      if (!held) return
      held = false
      this.count--
      if (this.count === 0) for (const wake of this.idleWaiters.splice(0)) wake()
    }
  }

  /** Resolves once nothing is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }
}
