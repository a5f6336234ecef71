/** Small hooks: run an async job when its inputs change, keeping only the latest answer. */
import { useEffect, useState } from 'preact/hooks'
import { errorText } from './state.js'

export type Async<T> = { readonly state: 'loading' } | { readonly state: 'done'; readonly value: T } | { readonly state: 'failed'; readonly error: string }

export function useAsync<T>(job: () => Promise<T>, inputs: readonly unknown[]): Async<T> {
  const [result, setResult] = useState<Async<T>>({ state: 'loading' })
  useEffect(() => {
    let current = true
    setResult({ state: 'loading' })
    job().then((value) => { if (current) setResult({ state: 'done', value }) }, (err: unknown) => { if (current) setResult({ state: 'failed', error: errorText(err) }) })
    return () => { current = false }
  }, inputs)
  return result
}
