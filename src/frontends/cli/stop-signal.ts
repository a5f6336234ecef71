/**
 * Waiting for SIGINT or SIGTERM without polling: `serve` and `mount` run
 * until one arrives, then shut down; a second one (an impatient user) runs
 * `onSecond`, which usually exits at once.
 */
export interface StopSignal {
  readonly promise: Promise<NodeJS.Signals>
  dispose(): void
}

export function waitForStopSignal(onSecond: () => void): StopSignal {
  let resolveStop: (signal: NodeJS.Signals) => void = () => {}
  let received = false
  const promise = new Promise<NodeJS.Signals>((resolve) => { resolveStop = resolve })
  const handler = (signal: NodeJS.Signals): void => {
    if (received) { onSecond(); return }
    received = true
    resolveStop(signal)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    promise,
    dispose: () => { process.off('SIGINT', handler); process.off('SIGTERM', handler) },
  }
}
