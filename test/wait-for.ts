/**
 * The tests' one polling helper: waits until `check` holds, failing with
 * `what` after a generous bound. Not a timing assertion (speed is for the
 * benches), only a limit on how long a test waits for something to happen.
 */
export interface WaitOptions {
  /** Give up after this long (default 30 s: the shared 2-core machine can be slow). */
  readonly limitMs?: number
  /** Poll interval (default 20 ms); checks that cost a round trip poll less often. */
  readonly everyMs?: number
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.limitMs ?? 30_000)
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 20))
  }
}
