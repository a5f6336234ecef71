/**
 * Clocks the page keeps for the bench (and a curious user): when something
 * was in the DOM with layout done, and when the frame showing it was painted.
 */

/** Runs `then` after the next frame's rendering: a task posted from its animation frame callback runs once that frame is done. */
export function afterNextPaint(then: () => void): void {
  requestAnimationFrame(() => {
    const channel = new MessageChannel()
    channel.port1.onmessage = () => { channel.port1.close(); then() }
    channel.port2.postMessage(null)
  })
}

/** Lays out now (the browser would before the next paint anyway; forcing it here lets the clock include it). */
export function layoutNow(element: HTMLElement | null): void {
  element?.getBoundingClientRect()
}
