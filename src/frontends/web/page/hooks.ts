/**
 * Small hooks: run an async job when its inputs change, keeping only the latest answer. The job starts in a
 * layout effect, in the same task as the render that needs it (an effect would wait for the next frame first).
 */
import { useLayoutEffect, useState } from 'preact/hooks'
import { errorText } from './state.js'

export type Async<T> = { readonly state: 'loading' } | { readonly state: 'done'; readonly value: T } | { readonly state: 'failed'; readonly error: string }

export function useAsync<T>(job: () => Promise<T>, inputs: readonly unknown[]): Async<T> {
  const [result, setResult] = useState<Async<T>>({ state: 'loading' })
  useLayoutEffect(() => {
    let current = true
    setResult({ state: 'loading' })
    job().then((value) => { if (current) setResult({ state: 'done', value }) }, (err: unknown) => { if (current) setResult({ state: 'failed', error: errorText(err) }) })
    return () => { current = false }
  }, inputs)
  return result
}
