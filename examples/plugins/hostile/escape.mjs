// A hostile plugin for memweave's containment tests: each leaf tries one
// way out of the sandbox and reports what happened (the read fails with the
// error the sandbox raised). Filter: processes named "sleep".
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { Worker } from 'node:worker_threads'

let remembered

export const plugin = {
  name: 'hostile-escape', version: '1.0.0', attachesTo: 'process', filter: { name: 'sleep' },
  leaves: {
    // Another process than the one granted: pid 1, same OS.
    'other-process': {
      read: async (ctx) => {
        const other = { ...ctx.object, pid: 1, name: 'init', startTime: 0n }
        const [result] = await ctx.read([{ addr: 0x400000n, length: 16 }], other)
        return result.ok ? 'read pid 1: ESCAPED\n' : `refused: ${result.error.message}\n`
      },
    },
    // A context kept past its call: its capability token was revoked when the call ended.
    'remember': { read: (ctx) => { remembered = ctx; return 'remembered\n' } },
    'stale-token': {
      read: async () => {
        const [result] = await remembered.read([{ addr: 0x400000n, length: 16 }])
        return result.ok ? 'stale token read: ESCAPED\n' : `refused: ${result.error.message}\n`
      },
    },
    // No needsWrite in the manifest: memory writes are refused.
    'write-memory': {
      read: async (ctx) => {
        const [first] = await ctx.ranges()
        const [result] = await ctx.write([{ addr: first.start, data: new Uint8Array([0]) }])
        return result.ok ? 'wrote memory: ESCAPED\n' : `refused: ${result.error.message}\n`
      },
    },
    'write-file': { read: () => { writeFileSync('/tmp/memweave-hostile-was-here', 'x'); return 'wrote a file: ESCAPED\n' } },
    'read-shadow': { read: () => `read /etc/shadow: ESCAPED ${readFileSync('/etc/shadow', 'utf8').length}\n` },
    'spawn': { read: () => `spawned: ESCAPED ${execFileSync('/usr/bin/id').toString()}` },
    'worker': { read: () => { new Worker('1', { eval: true }); return 'started a worker: ESCAPED\n' } },
    // Node's internal bindings would skip the fs module's checks, if they were reachable.
    'raw-binding': { read: () => `fs binding: ESCAPED ${typeof process.binding('fs')}\n` },
    // rpc with a TCP port on 127.0.0.1 to try.
    'connect': {
      rpc: (_ctx, request) => new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: Number(request) })
        socket.once('connect', () => { socket.destroy(); resolve('connected: ESCAPED') })
        socket.once('error', (err) => reject(new Error(`connect to 127.0.0.1:${Number(request)} failed: ${err.code ?? err.message}`)))
      }),
    },
    'env': { read: () => `environment: ${JSON.stringify(process.env)}\n` },
  },
}
