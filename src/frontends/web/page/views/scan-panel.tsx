/**
 * The scan panel: searches memory through the `scan` rpc leaf beside the
 * mem leaf (hex with ?? wildcards, text, or a regular expression; the
 * built-in scan plugin), shows progress as the daemon reports it
 * (protocol 1.2 progress events for this request), can cancel, and lists
 * the hits; a hit jumps the hex view there.
 */
import { useState } from 'preact/hooks'
import { scalarText } from '../format.js'
import { describeAddress } from '../memory-map.js'
import type { Region } from '../memory-map.js'
import { joinTreePath, parentPath } from '../route.js'
import { clientOf, errorText } from '../state.js'

interface ScanResult { hits: bigint[]; scannedBytes: number; truncated: boolean; cancelled: boolean; updates: number; ms: number }

type Phase = { state: 'idle' } | { state: 'running'; id: number; done: number; total: number; note: string } | { state: 'done'; result: ScanResult } | { state: 'failed'; error: string }

export function ScanPanel(props: { path: string; handle: number; regions: readonly Region[]; onJump: (addr: bigint) => void; onClose: () => void }) {
  const [kind, setKind] = useState<'text' | 'hex' | 'regex'>('text')
  const [pattern, setPattern] = useState('')
  const [phase, setPhase] = useState<Phase>({ state: 'idle' })
  const scanPath = joinTreePath(parentPath(props.path), 'scan')
  const run = async (): Promise<void> => {
    if (pattern === '') return
    const client = clientOf()
    let handle: number | undefined
    try {
      handle = (await client.open(scanPath)).handle
      let updates = 0
      const started = client.start('rpc', { handle, request: { pattern, type: kind, maxResults: 1000 } }, (p) => {
        updates++
        setPhase({ state: 'running', id: started.id, done: p.done, total: p.total, note: scalarText(p.detail?.['note']) })
      })
      setPhase({ state: 'running', id: started.id, done: 0, total: 0, note: 'starting' })
      setPhase({ state: 'done', result: toResult(await started.promise, updates) })
    } catch (err) {
      setPhase({ state: 'failed', error: errorText(err) })
    } finally {
      if (handle !== undefined) void client.close(handle).catch(() => null)
    }
  }
  const running = phase.state === 'running'
  return (
    <div class="scan-panel">
      <form class="toolbar" onSubmit={(e) => { e.preventDefault(); if (!running) void run() }}>
        <strong>Scan</strong>
        <select value={kind} onChange={(e) => { const v = e.currentTarget.value; setKind(v === 'hex' || v === 'regex' ? v : 'text') }}>
          <option value="text">text</option><option value="hex">hex (?? = any)</option><option value="regex">regex</option>
        </select>
        <input class="scan-input" value={pattern} onInput={(e) => setPattern(e.currentTarget.value)} placeholder={kind === 'hex' ? '4d 45 ?? 57' : 'MEMWEAVE'} spellcheck={false} />
        {running ? <button type="button" class="cancel" onClick={() => clientOf().cancel(phase.id)}>Cancel</button> : <button type="submit">Search</button>}
        <button type="button" onClick={props.onClose}>Close</button>
      </form>
      {phase.state === 'running' ? (
        <div class="progress" data-done={phase.done} data-total={phase.total}>
          <div class="bar" style={{ width: `${phase.total === 0 ? 0 : Math.round((phase.done / phase.total) * 100)}%` }} />
          <span>{phase.total === 0 ? 0 : Math.round((phase.done / phase.total) * 100)}% {phase.note}</span>
        </div>
      ) : null}
      {phase.state === 'failed' ? <p class="error scan-error">{phase.error}</p> : null}
      {phase.state === 'done' ? (
        <div class="scan-results">
          <p class="dim scan-summary" data-updates={phase.result.updates} data-cancelled={String(phase.result.cancelled)}>
            {phase.result.cancelled ? 'Cancelled: ' : ''}{phase.result.hits.length} hits in {Math.round(phase.result.scannedBytes / 1024)} KiB scanned ({phase.result.ms} ms)
            {phase.result.truncated ? ' (stopped at the hit limit)' : ''}, {phase.result.updates} progress updates
          </p>
          <ul>
            {phase.result.hits.map((addr) => (
              <li key={`${addr}`}><a class="hit" href="#" onClick={(e) => { e.preventDefault(); props.onJump(addr) }}>0x{addr.toString(16)}</a> <span class="dim">{describeAddress(addr, props.regions)}</span></li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  )
}

function toResult(value: unknown, updates: number): ScanResult {
  const fields = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {}
  const matches = Array.isArray(fields['matches']) ? fields['matches'] : []
  const hits = matches.map((m: unknown) => {
    const address = typeof m === 'object' && m !== null && 'address' in m ? m.address : 0
    return typeof address === 'bigint' ? address : BigInt(Number(address))
  })
  return { hits, scannedBytes: Number(fields['scannedBytes'] ?? 0), truncated: fields['truncated'] === true, cancelled: fields['cancelled'] === true, updates, ms: Number(fields['ms'] ?? 0) }
}
