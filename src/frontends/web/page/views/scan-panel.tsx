/**
 * The scan panel: searches a process's memory through its `scan` rpc leaf
 * (hex with ?? wildcards, or text), shows progress as the daemon reports it
 * (protocol 1.2 progress events for this request), can cancel, and lists
 * the hits; a hit jumps the hex view there.
 */
import { useState } from 'preact/hooks'
import { describeAddress } from '../memory-map.js'
import type { Region } from '../memory-map.js'
import { joinTreePath, parentPath } from '../route.js'
import { clientOf, errorText } from '../state.js'

interface ScanResult { hits: bigint[]; scannedBytes: number; truncated: boolean }

type Phase = { state: 'idle' } | { state: 'running'; id: number; done: number; total: number; hits: number } | { state: 'done'; result: ScanResult } | { state: 'failed'; error: string }

export function ScanPanel(props: { path: string; handle: number; regions: readonly Region[]; onJump: (addr: bigint) => void; onClose: () => void }) {
  const [kind, setKind] = useState<'text' | 'hex'>('text')
  const [pattern, setPattern] = useState('')
  const [phase, setPhase] = useState<Phase>({ state: 'idle' })
  const scanPath = joinTreePath(parentPath(props.path), 'scan')
  const run = async (): Promise<void> => {
    if (pattern === '') return
    const client = clientOf()
    let handle: number | undefined
    try {
      handle = (await client.open(scanPath)).handle
      const started = client.start('rpc', { handle, request: { [kind]: pattern, maxHits: 1000 } }, (p) => {
        setPhase({ state: 'running', id: started.id, done: p.done, total: p.total, hits: Number(p.detail?.['hits'] ?? 0) })
      })
      setPhase({ state: 'running', id: started.id, done: 0, total: 0, hits: 0 })
      setPhase({ state: 'done', result: toResult(await started.promise) })
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
        <select value={kind} onChange={(e) => setKind(e.currentTarget.value === 'hex' ? 'hex' : 'text')}>
          <option value="text">text</option><option value="hex">hex (?? = any)</option>
        </select>
        <input class="scan-input" value={pattern} onInput={(e) => setPattern(e.currentTarget.value)} placeholder={kind === 'hex' ? '4d 45 ?? 57' : 'MEMWEAVE'} spellcheck={false} />
        {running ? <button type="button" class="cancel" onClick={() => clientOf().cancel(phase.id)}>Cancel</button> : <button type="submit">Search</button>}
        <button type="button" onClick={props.onClose}>Close</button>
      </form>
      {phase.state === 'running' ? (
        <div class="progress" data-done={phase.done} data-total={phase.total}>
          <div class="bar" style={{ width: `${phase.total === 0 ? 0 : Math.round((phase.done / phase.total) * 100)}%` }} />
          <span>{Math.round(phase.done / 1024)} / {Math.round(phase.total / 1024)} KiB, {phase.hits} hits</span>
        </div>
      ) : null}
      {phase.state === 'failed' ? <p class="error scan-error">{phase.error}</p> : null}
      {phase.state === 'done' ? (
        <div class="scan-results">
          <p class="dim">{phase.result.hits.length} hits in {Math.round(phase.result.scannedBytes / 1024)} KiB{phase.result.truncated ? ' (stopped at the hit limit)' : ''}</p>
          <ul>
            {phase.result.hits.map((addr) => (
              <li key={`${addr}`}><a href="#" onClick={(e) => { e.preventDefault(); props.onJump(addr) }}>0x{addr.toString(16)}</a> <span class="dim">{describeAddress(addr, props.regions)}</span></li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  )
}

function toResult(value: unknown): ScanResult {
  const fields = typeof value === 'object' && value !== null ? value as Record<string, unknown> : {}
  const hits = Array.isArray(fields['hits']) ? fields['hits'].map((h) => (typeof h === 'bigint' ? h : BigInt(Number(h)))) : []
  return { hits, scannedBytes: Number(fields['scannedBytes'] ?? 0), truncated: fields['truncated'] === true }
}
