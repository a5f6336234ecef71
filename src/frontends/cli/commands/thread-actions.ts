/**
 * Threads of a process, from os/OS/processes/by-pid/PID/threads/:
 * `threads OS PID` (a table, or --json) and `registers OS PID [TID]`
 * (text like gdb's `info registers`, or --json; TID defaults to PID).
 * thread-commands.ts defines them and loads this file when one runs.
 */
import { readJson, readText } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import { parsePid } from '../numbers.js'
import { cellText } from '../output.js'
import type { GlobalOptions } from '../globals.js'
import { withClient } from '../session.js'

function threadsPath(os: string, pid: number): string {
  return `os/${os}/processes/by-pid/${pid}/threads`
}

export async function threadsCommand(globals: GlobalOptions, os: string, pid: string): Promise<void> {
  const base = threadsPath(os, parsePid(pid))
  await withClient(globals, async ({ client, out }) => {
    const tids = (await client.list(base)).filter((e) => e.type === 'branch').map((e) => e.name)
    const infos: Record<string, unknown>[] = []
    for (const tid of tids) {
      const info = await readJson(client, `${base}/${tid}/info`)
      if (isRecord(info)) infos.push(info)
    }
    if (out.json) { out.jsonValue(infos); return }
    out.table(['TID', 'NAME', 'STATE', 'CPU', 'REGISTERS', 'WARNINGS'], infos.map((t) => [
      String(t.tid), cellText(t.name), cellText(t.state), cellText(t.cpu, '-'),
      cellText(t.registerSource), Array.isArray(t.warnings) ? t.warnings.map(String).join('; ') : '',
    ]))
  })
}

export async function registersCommand(globals: GlobalOptions, os: string, pid: string, tid: string | undefined): Promise<void> {
  const processId = parsePid(pid)
  const base = `${threadsPath(os, processId)}/${tid === undefined ? processId : parsePid(tid)}`
  await withClient(globals, async ({ client, out }) => {
    if (out.json) out.jsonValue(await readJson(client, `${base}/registers.json`))
    else await out.raw(new TextEncoder().encode(await readText(client, `${base}/registers`)))
  })
}
