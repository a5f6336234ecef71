/**
 * A text or JSON leaf: JSON objects as a key/value table, anything else as
 * preformatted text. Content may come from guest memory: it is rendered as
 * text nodes only (never as HTML).
 */
import { scalarText } from '../format.js'
import { useAsync } from '../hooks.js'
import { clientOf } from '../state.js'

export function TextView(props: { path: string }) {
  const text = useAsync(() => clientOf().readText(props.path), [props.path])
  if (text.state === 'loading') return <p class="dim">reading…</p>
  if (text.state === 'failed') return <p class="error">{text.error}</p>
  const json = parseJson(text.value)
  if (json !== undefined && typeof json === 'object' && json !== null && !Array.isArray(json)) return <KeyValues value={json as Record<string, unknown>} />
  return <pre class="text">{text.value}</pre>
}

function parseJson(text: string): unknown {
  const t = text.trim()
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined
  try {
    return JSON.parse(t)
  } catch (err) {
    return err instanceof SyntaxError ? undefined : undefined
  }
}

export function KeyValues(props: { value: Record<string, unknown> }) {
  return (
    <table class="kv">
      <tbody>
        {Object.entries(props.value).map(([key, value]) => (
          <tr key={key}><th>{key}</th><td>{valueText(value)}</td></tr>
        ))}
      </tbody>
    </table>
  )
}

export function valueText(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (Array.isArray(value)) return value.every((v) => typeof v !== 'object') ? value.join(' ') : JSON.stringify(value)
  return scalarText(value)
}
