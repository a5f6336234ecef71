/**
 * Threads of a process, from os/OS/processes/by-pid/PID/threads/:
 * `threads OS PID` (a table, or --json) and `registers OS PID [TID]`
 * (text like gdb's `info registers`, or --json; TID defaults to PID).
 */
import type { Command } from 'commander'
import { readJson, readText } from '../leaf-io.js'
import { isRecord } from '../../../errors/index.js'
import { parsePid } from '../numbers.js'
import { cellText } from '../output.js'
import { globalsOf, withClient } from '../session.js'

function threadsPath(os: string, pid: number): string {
  return `os/${os}/processes/by-pid/${pid}/threads`
}

export function addThreadCommands(program: Command): void {
  program.command('threads').description('threads of a process with their state and where their registers came from')
    .argument('<os>').argument('<pid>')
    .action(async (os: string, pid: string, _options: unknown, command: Command) => {
      const base = threadsPath(os, parsePid(pid))
      await withClient(globalsOf(command), async ({ client, out }) => {
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
    })

  program.command('registers').description("a thread's user registers (TID defaults to the main thread)")
    .argument('<os>').argument('<pid>').argument('[tid]')
    .action(async (os: string, pid: string, tid: string | undefined, _options: unknown, command: Command) => {
      const processId = parsePid(pid)
      const base = `${threadsPath(os, processId)}/${tid === undefined ? processId : parsePid(tid)}`
      await withClient(globalsOf(command), async ({ client, out }) => {
        if (out.json) out.jsonValue(await readJson(client, `${base}/registers.json`))
        else await out.raw(new TextEncoder().encode(await readText(client, `${base}/registers`)))
      })
    })
}
