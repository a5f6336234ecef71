/**
 * Control leaves (`new`, `rm`) get a one-line form whose answer, or refusal
 * with the daemon's reason, is shown under it; rpc leaves a request form
 * (JSON, or a plain string) and the result. Both read the leaf once for its
 * usage text. Actions that change the node ask for confirmation first.
 */
import { useState } from 'preact/hooks'
import { useAsync } from '../hooks.js'
import { clientOf, errorText } from '../state.js'
import { valueText } from './text-view.js'

type Answer = { ok: true; text: string } | { ok: false; text: string } | undefined

async function callLeaf(path: string, request: unknown): Promise<unknown> {
  const client = clientOf()
  const opened = await client.open(path)
  try {
    return await client.rpc(opened.handle, request)
  } finally {
    await client.close(opened.handle).catch(() => null)
  }
}

export function ControlView(props: { path: string }) {
  const usage = useAsync(() => clientOf().readText(props.path), [props.path])
  const [line, setLine] = useState('')
  const [answer, setAnswer] = useState<Answer>(undefined)
  const run = async (): Promise<void> => {
    if (line.trim() === '' || !window.confirm(`Send to ${props.path}:\n\n${line}`)) return
    try {
      setAnswer({ ok: true, text: valueText(await callLeaf(props.path, line)) })
    } catch (err) {
      setAnswer({ ok: false, text: errorText(err) })
    }
  }
  return (
    <div class="call">
      <form class="line" onSubmit={(e) => { e.preventDefault(); void run() }}>
        <input value={line} onInput={(e) => setLine(e.currentTarget.value)} placeholder="one command line" spellcheck={false} />
        <button type="submit">Send</button>
      </form>
      {answer === undefined ? null : <p class={answer.ok ? 'ok' : 'error'}>{answer.ok ? '✓ ' : 'refused: '}{answer.text}</p>}
      {usage.state === 'done' ? <pre class="text dim">{usage.value}</pre> : null}
    </div>
  )
}

export function RpcView(props: { path: string }) {
  const help = useAsync(() => clientOf().readText(props.path), [props.path])
  const [request, setRequest] = useState('{}')
  const [answer, setAnswer] = useState<Answer>(undefined)
  const run = async (): Promise<void> => {
    let body: unknown = request
    try { body = JSON.parse(request) } catch (err) { body = err instanceof SyntaxError ? request : request }
    try {
      setAnswer({ ok: true, text: JSON.stringify(await callLeaf(props.path, body), (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2) })
    } catch (err) {
      setAnswer({ ok: false, text: errorText(err) })
    }
  }
  return (
    <div class="call">
      {help.state === 'done' && help.value !== '' ? <pre class="text dim">{help.value}</pre> : null}
      <textarea value={request} onInput={(e) => setRequest(e.currentTarget.value)} rows={4} spellcheck={false} />
      <div><button onClick={() => void run()}>Call</button></div>
      {answer === undefined ? null : <pre class={`text ${answer.ok ? '' : 'error'}`}>{answer.text}</pre>}
    </div>
  )
}
