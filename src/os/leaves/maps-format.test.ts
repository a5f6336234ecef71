import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { physAddr, virtAddr } from '../../mem/index.js'
import { formatMaps, formatMapsLine, formatPhysMaps, parseMaps } from './maps-format.js'
import type { MapEntry } from '../os-model.js'

function entry(start: bigint, end: bigint, perms: string, path: string, extra: Partial<MapEntry> = {}): MapEntry {
  return { start: virtAddr(start), end: virtAddr(end), perms, offset: 0n, dev: '00:00', inode: 0n, path, ...extra }
}

test('maps lines are padded like the kernel: path at column 73, anonymous lines end with a space', () => {
  const file = formatMapsLine(entry(0x55b559e01000n, 0x55b559e03000n, 'r--p', '/usr/bin/cat', { dev: 'fe:00', inode: 260131n }))
  assert.equal(file, '55b559e01000-55b559e03000 r--p 00000000 fe:00 260131                     /usr/bin/cat')
  assert.equal(file.indexOf('/'), 73)
  assert.equal(formatMapsLine(entry(0x7f19033e7000n, 0x7f1903409000n, 'rw-p', '')), '7f19033e7000-7f1903409000 rw-p 00000000 00:00 0 ')
  // Short addresses keep 8 digits; a header already past the column gets exactly one space.
  assert.equal(formatMapsLine(entry(0x400000n, 0x401000n, 'r-xp', '/a', { offset: 0x1000n })).slice(0, 40), '00400000-00401000 r-xp 00001000 00:00 0 ')
  assert.equal(formatMapsLine(entry(0xffffffffff600000n, 0xffffffffff601000n, '--xp', '[vsyscall]')),
    'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]')
  // Past the column the kernel's pad adds nothing, and its separator follows the header's own space.
  const wide = formatMapsLine(entry(0xffffffffff600000n, 0xffffffffff601000n, 'r--p', '/x', { dev: 'fe:00', inode: 12345678901234567890n }))
  assert.ok(wide.endsWith(' 12345678901234567890  /x'), wide)
  assert.equal(parseMaps(`${wide}\n`)[0]?.path, '/x')
  assert.equal(formatMapsLine(entry(0x1000n, 0x2000n, 'r--p', '/tmp/a\nb')).endsWith('/tmp/a\\012b'), true)
})

test('every readable /proc/PID/maps on this host round-trips byte for byte', async () => {
  let checked = 0
  for (const name of (await readdir('/proc')).filter((n) => /^[0-9]+$/.test(n))) {
    let text: string
    try {
      text = await readFile(`/proc/${name}/maps`, 'utf8')
    } catch {
      continue // the process exited while we listed, or is not ours to read: nothing to compare
    }
    assert.equal(formatMaps(parseMaps(text)), text, `pid ${name}`)
    checked++
  }
  assert.ok(checked > 0)
})

test('maps paths with spaces survive parsing', () => {
  const line = formatMapsLine(entry(0x1000n, 0x2000n, 'r--s', '/tmp/with space (deleted)'))
  assert.equal(parseMaps(`${line}\n`)[0]?.path, '/tmp/with space (deleted)')
  assert.throws(() => parseMaps('garbage\n'), (err: unknown) => err instanceof Error && /not a maps line/.test(err.message))
})

test('phys_maps lines are fixed-width hex with perms and size', () => {
  const text = formatPhysMaps([
    { virt: virtAddr(0x7f0000001000n), phys: physAddr(0x12345000n), sizeBytes: 0x3000n, writable: true, executable: false, user: true },
    { virt: virtAddr(0x400000n), phys: physAddr(0x1000n), sizeBytes: 0x1000n, writable: false, executable: true, user: false },
  ])
  assert.equal(text, '00007f0000001000-00007f0000004000 0000000012345000 rw-u 3000\n0000000000400000-0000000000401000 0000000000001000 r-xs 1000\n')
})
