/**
 * Control registers of a live guest's vCPUs from the monitor's
 * `info registers -a`: one block per CPU, headed "CPU#N", holding lines like
 *
 *   CR0=80050033 CR2=0000000036147cd8 CR3=0000000002570000 CR4=000006f0
 *
 * Only CR3 and CR4 are kept: they let an OS layer find the kernel's page
 * tables without scanning guest RAM.
 */
import type { Logger } from 'pino'
import type { CpuRegisterSnapshot } from '../connector.js'
import type { QmpClient } from './qmp-client.js'

const CPU_HEADER = /^CPU#(\d+)/
const REGISTER = /\b(CR3|CR4)=([0-9a-f]+)\b/gi

/** CR3/CR4 of each CPU block in `info registers` text; CPUs without a CR3 (non-x86 guests) are left out. */
export function parseInfoRegisters(text: string): CpuRegisterSnapshot[] {
  const out: CpuRegisterSnapshot[] = []
  let cpu: number | undefined
  let cr3: bigint | undefined
  let cr4: bigint | undefined
  const flush = (): void => {
    if (cr3 !== undefined) out.push({ cpu: cpu ?? out.length, cr3, cr4 })
    cr3 = undefined
    cr4 = undefined
  }
  for (const line of text.split(/\r?\n/)) {
    const header = CPU_HEADER.exec(line.trim())
    if (header !== null) { flush(); cpu = Number(header[1]); continue }
    for (const m of line.matchAll(REGISTER)) {
      const value = BigInt(`0x${m[2]!}`)
      if (m[1]!.toUpperCase() === 'CR3') cr3 ??= value
      else cr4 ??= value
    }
  }
  flush()
  return out
}

/**
 * Reads the vCPUs' registers over an open QMP session. The registers are only
 * a shortcut for the OS layer, so any failure is logged and yields undefined.
 */
export async function readCpuRegisters(client: QmpClient, log: Logger): Promise<CpuRegisterSnapshot[] | undefined> {
  try {
    const cpus = parseInfoRegisters(await client.humanMonitor('info registers -a'))
    if (cpus.length > 0) return cpus
    log.debug('QMP info registers shows no CR3; no CPU register hint')
  } catch (err) {
    log.debug({ err }, 'QMP info registers failed; no CPU register hint')
  }
  return undefined
}
