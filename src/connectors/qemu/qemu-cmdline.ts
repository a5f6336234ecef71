/**
 * What a QEMU command line (/proc/PID/cmdline) says about the guest: its
 * -name, machine type and options, RAM size, memory backends and QMP
 * sockets. Values use QEMU's option syntax: `key=value,...`, the first item
 * may omit its key (the "implied" key), and ',,' stands for a comma.
 */
import { basename } from 'node:path'
import { MemweaveError } from '../../errors/index.js'

export interface MemoryBackend {
  readonly id: string
  /** QOM type: memory-backend-ram, -file, -memfd, ... */
  readonly qomType: string
  readonly sizeBytes: bigint | undefined
  readonly memPath: string | undefined
}

export interface QemuCommandLine {
  readonly argv: readonly string[]
  /** Basename of argv[0], e.g. qemu-system-x86_64. */
  readonly binary: string
  /** The guest name of -name (its `guest=` part), if any. */
  readonly name: string | undefined
  /** Machine type as given (-machine/-M), e.g. q35, pc-q35-7.2; undefined for the default. */
  readonly machineType: string | undefined
  readonly machineOptions: ReadonlyMap<string, string>
  /** RAM size from -m, in bytes; undefined when -m is absent. */
  readonly ramBytes: bigint | undefined
  readonly memoryBackends: ReadonlyMap<string, MemoryBackend>
  /** Directory or file of the legacy -mem-path option. */
  readonly memPath: string | undefined
  /** True when -numa is used: RAM may be split over several backends. */
  readonly numa: boolean
  /** Unix socket paths of QMP monitors (-qmp unix:..., -mon mode=control on a socket chardev). */
  readonly qmpSockets: readonly string[]
}

/** Options we read: the value that follows is taken as their argument. */
const READ_OPTIONS = new Set(['name', 'm', 'machine', 'M', 'object', 'mem-path', 'numa', 'qmp', 'qmp-pretty', 'chardev', 'mon'])
/** Other common options with an argument, skipped so their value is never taken for an option. */
const SKIP_OPTIONS = new Set([
  'accel', 'add-fd', 'append', 'audiodev', 'bios', 'blockdev', 'boot', 'cdrom', 'cpu', 'D', 'd', 'device', 'display', 'drive',
  'dtb', 'fda', 'fdb', 'fsdev', 'fw_cfg', 'global', 'hda', 'hdb', 'hdc', 'hdd', 'incoming', 'initrd', 'k', 'kernel', 'L',
  'loadvm', 'monitor', 'msg', 'net', 'netdev', 'overcommit', 'parallel', 'pidfile', 'plugin', 'rtc', 'run-with', 'runas',
  'sandbox', 'serial', 'smbios', 'smp', 'spice', 'trace', 'usbdevice', 'uuid', 'vga', 'virtfs', 'vnc', 'watchdog-action',
])

const UNITS: Readonly<Record<string, bigint>> = { '': 1n, k: 1n << 10n, m: 1n << 20n, g: 1n << 30n, t: 1n << 40n, p: 1n << 50n, e: 1n << 60n }

/** Splits `a=1,b=2` (',,' is a literal comma); an item without '=' gets `impliedKey`. */
export function parseQemuOpts(value: string, impliedKey: string): Map<string, string> {
  const items: string[] = []
  let current = ''
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]
    if (ch === ',' && value[i + 1] === ',') { current += ','; i++; continue }
    if (ch === ',') { items.push(current); current = ''; continue }
    current += ch
  }
  items.push(current)
  const out = new Map<string, string>()
  items.forEach((item, index) => {
    const eq = item.indexOf('=')
    if (eq < 0) { if (index === 0) out.set(impliedKey, item); else out.set(item, 'on'); return }
    out.set(item.slice(0, eq), item.slice(eq + 1))
  })
  return out
}

/** A QEMU size: `512M`, `1G`, `0.5G`; a bare number is in `defaultUnit` (MiB for -m, bytes for -object). */
export function parseQemuSize(text: string, defaultUnit: 'B' | 'M'): bigint {
  const match = /^(\d+)(?:\.(\d+))?\s*([kmgtpe]?)(?:i?b)?$/i.exec(text.trim())
  if (match === null) throw new MemweaveError('connector', 'malformed', `qemu: cannot read size '${text}'`)
  const unitLetter = (match[3] ?? '').toLowerCase()
  const unit = unitLetter === '' && defaultUnit === 'M' ? UNITS['m']! : UNITS[unitLetter]!
  const whole = BigInt(match[1]!)
  const fraction = match[2] ?? ''
  const scaled = whole * unit + (fraction === '' ? 0n : (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length))
  return scaled
}

/** Reads the facts we need from a QEMU argv. */
export function parseQemuCommandLine(argv: readonly string[]): QemuCommandLine {
  let name: string | undefined
  let machineType: string | undefined
  const machineOptions = new Map<string, string>()
  let ramBytes: bigint | undefined
  const memoryBackends = new Map<string, MemoryBackend>()
  let memPath: string | undefined
  let numa = false
  const qmpSockets: string[] = []
  const socketChardevs = new Map<string, string>()
  const controlMonitors: string[] = []
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!
    const option = /^--?([A-Za-z][\w-]*)$/.exec(arg)?.[1]
    if (option === undefined) continue
    if (SKIP_OPTIONS.has(option)) { i++; continue }
    if (!READ_OPTIONS.has(option)) continue
    const value = argv[++i]
    if (value === undefined) break
    switch (option) {
      case 'name': {
        const opts = parseQemuOpts(value, 'guest')
        name = opts.get('guest')
        break
      }
      case 'm':
        ramBytes = parseQemuSize(parseQemuOpts(value, 'size').get('size') ?? '', 'M')
        break
      case 'machine': case 'M': {
        const opts = parseQemuOpts(value, 'type')
        for (const [k, v] of opts) if (k !== 'type') machineOptions.set(k, v)
        machineType = opts.get('type') ?? machineType
        break
      }
      case 'object': {
        const opts = parseQemuOpts(value, 'qom-type')
        const qomType = opts.get('qom-type') ?? ''
        const id = opts.get('id')
        if (!qomType.startsWith('memory-backend-') || id === undefined) break
        const size = opts.get('size')
        memoryBackends.set(id, { id, qomType, sizeBytes: size === undefined ? undefined : parseQemuSize(size, 'B'), memPath: opts.get('mem-path') })
        break
      }
      case 'mem-path': memPath = value; break
      case 'numa': numa = true; break
      case 'qmp': case 'qmp-pretty': {
        const path = /^unix:([^,]+)/.exec(value)?.[1]
        if (path !== undefined) qmpSockets.push(path)
        break
      }
      case 'chardev': {
        const opts = parseQemuOpts(value, 'backend')
        const id = opts.get('id')
        const path = opts.get('path')
        if (opts.get('backend') === 'socket' && id !== undefined && path !== undefined) socketChardevs.set(id, path)
        break
      }
      case 'mon': {
        const opts = parseQemuOpts(value, 'chardev')
        const chardev = opts.get('chardev')
        if (chardev !== undefined && opts.get('mode') === 'control') controlMonitors.push(chardev)
        break
      }
    }
  }
  for (const id of controlMonitors) {
    const path = socketChardevs.get(id)
    if (path !== undefined) qmpSockets.push(path)
  }
  return { argv, binary: basename(argv[0] ?? ''), name, machineType, machineOptions, ramBytes, memoryBackends, memPath, numa, qmpSockets }
}

/** True when argv[0] names a QEMU system emulator (qemu-system-*, or the distribution name qemu-kvm). */
export function isQemuBinary(argv0: string): boolean {
  const base = basename(argv0)
  return base.startsWith('qemu-system-') || base === 'qemu-kvm'
}
