/**
 * The CLI on a raw memory image this test writes, through the `file`
 * connector: read --hex, cat (also into a shell pipe, which cat widens),
 * read --out, stat, connector ls, config
 * files, writes (refused, then allowed), and the same over a daemon.
 * Skipped, saying why, while `file` is not a registered connector kind.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { mmapAddonAbsence } from '../src/addons/index.js'
import { CHUNK_BYTES } from '../src/frontends/cli/leaf-io.js'
import { CLI_MAIN, cleanEnv, lines, REPO_ROOT, runCli, startDaemon } from './cli-kit.js'

const IMAGE_BYTES = 9 * 1024 * 1024 + 12345 // several of the 4 MiB chunks cat reads, and not a multiple of them
const MARKER = 'MEMWEAVE-CLI-TEST'
const MARKER_AT = 0x1000

let dir = ''
let image = ''
let bytes = Buffer.alloc(0)
let skipReason: string | false = false

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'memweave-cli-file-'))
  image = join(dir, 'image.raw')
  bytes = Buffer.alloc(IMAGE_BYTES)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 12)) & 0xff
  bytes.write(MARKER, MARKER_AT, 'latin1')
  await writeFile(image, bytes)
  const info = await runCli(['--embedded', 'sys', 'info', '--json'])
  const kinds = (JSON.parse(info.stdout) as { connectorKinds: string[] }).connectorKinds
  if (!kinds.includes('file')) skipReason = `the 'file' connector kind is not registered yet (known: ${kinds.join(', ') || 'none'})`
})
after(async () => { await rm(dir, { recursive: true, force: true }) })

const withImage = (): string[] => ['--embedded', '--with', `connector img file:${image}`]

describe('a raw image through the file connector', { concurrency: 3 }, () => {
  test('read --hex shows the marker at its offset', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const result = await runCli([...withImage(), 'read', 'connector/img/mem', '--offset', '0x1000', '--length', '32', '--hex'])
    assert.equal(result.code, 0, result.stderr)
    const dump = lines(result.stdout)
    assert.equal(dump.length, 2)
    assert.match(dump[0] ?? '', /^00001000: 4d45 4d57 4541 5645 2d43 4c49 2d54 4553  MEMWEAVE-CLI-TES$/)
  })

  test('cat copies the whole image byte for byte', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const result = await runCli([...withImage(), 'cat', 'connector/img/mem'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdoutBytes.length, IMAGE_BYTES)
    assert.ok(result.stdoutBytes.equals(bytes), 'same bytes')
  })

  // Into a real pipe (a shell's |, not the socket pair runCli reads): widened toward one 4 MiB chunk (up to pipe-max-size) with the mmap addon, left at 64 KiB without.
  for (const mode of ['native', 'pure Node'] as const) {
    test(`cat into a shell pipe copies the image byte for byte (${mode})`, { skip: mode === 'native' ? mmapAddonAbsence() ?? false : false }, async (t) => {
      if (skipReason !== false) { t.skip(skipReason); return }
      // The consumer reads everything, then reports the pipe's size (F_GETPIPE_SZ = 1032) and a digest of what it got.
      const consumer = 'import fcntl,hashlib,sys; d=sys.stdin.buffer.read(); print(fcntl.fcntl(0, 1032), len(d), hashlib.sha256(d).hexdigest())'
      const cli = [process.execPath, '--import', 'tsx', CLI_MAIN, ...withImage(), 'cat', 'connector/img/mem'].map((a) => `'${a}'`).join(' ')
      const result = await promisify(execFile)('sh', ['-c', `${cli} | python3 -c '${consumer.replaceAll("'", '"')}'`], {
        cwd: REPO_ROOT, env: cleanEnv(mode === 'native' ? {} : { MEMWEAVE_NATIVE: '0' }),
      })
      const [pipeBytes, length, digest] = result.stdout.trim().split(' ')
      assert.equal(Number(length), IMAGE_BYTES)
      assert.equal(digest, createHash('sha256').update(bytes).digest('hex'))
      const maxPipe = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'))
      assert.equal(Number(pipeBytes), mode === 'native' ? Math.min(CHUNK_BYTES, maxPipe) : 64 * 1024)
    })
  }

  test('read --out writes the range to a file; stat knows the size', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const out = join(dir, 'range.bin')
    const result = await runCli([...withImage(), 'read', 'connector/img/mem', '--offset', '0x1ff000', '--length', '0x2000', '--out', out])
    assert.equal(result.code, 0, result.stderr)
    assert.ok((await readFile(out)).equals(bytes.subarray(0x1ff000, 0x201000)))
    const stat = JSON.parse((await runCli([...withImage(), 'stat', 'connector/img/mem', '--json'])).stdout) as { sizeBytes: number; content: string }
    assert.equal(stat.sizeBytes, IMAGE_BYTES)
    assert.equal(stat.content, 'mem')
  })

  test('connector ls summarises the info leaf', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const table = await runCli([...withImage(), 'connector', 'ls'])
    assert.equal(table.code, 0, table.stderr)
    assert.match(lines(table.stdout)[0] ?? '', /^NAME\s+KIND\s+SIZE\s+DETAILS$/)
    assert.match(lines(table.stdout)[1] ?? '', /^img\s+file\s+9\.0 MiB\s+/)
    const json = JSON.parse((await runCli([...withImage(), 'connector', 'ls', '--json'])).stdout) as { name: string; info: { kind: string } }[]
    assert.deepEqual(json.map((c) => [c.name, c.info.kind]), [['img', 'file']])
  })

  test('a config file creates the connector (args as a table)', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const config = join(dir, 'file.toml')
    await writeFile(config, `[[connector]]\nname = "cfg"\nkind = "file"\nargs = { target = ${JSON.stringify(image)}, format = "raw" }\n`)
    const result = await runCli(['--embedded', '--config', config, 'read', 'connector/cfg/mem', '--offset', String(MARKER_AT), '--length', String(MARKER.length)])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, MARKER)
  })

  test('writes are refused without --allow-write and land in the file with it', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const copy = join(dir, 'writable.raw')
    await copyFile(image, copy)
    const refused = await runCli(['--embedded', '--with', `connector w file:${copy}`, 'write', 'connector/w/mem', '--offset', '0x10', '--hex', 'deadbeef'])
    assert.equal(refused.code, 1)
    assert.equal(lines(refused.stderr).length, 1, refused.stderr)
    assert.match(refused.stderr, /^memweave: 'connector\/w\/mem' is not writable: writes are off on this node \(.*--allow-write/)
    // --allow-write alone is not enough: the connector must ask for writes too.
    const notAsked = await runCli(['--embedded', '--allow-write', '--with', `connector w file:${copy}`, 'write', 'connector/w/mem', '--offset', '0x10', '--hex', 'deadbeef'])
    assert.equal(notAsked.code, 1)
    assert.match(notAsked.stderr, /not writable/)
    const allowed = await runCli(['--embedded', '--allow-write', '--with', `connector w file:${copy},writable=true`, 'write', 'connector/w/mem', '--offset', '0x10', '--hex', 'deadbeef'])
    assert.equal(allowed.code, 0, allowed.stderr)
    assert.equal(allowed.stdout, 'wrote 4 bytes to connector/w/mem at 0x10\n')
    const after = await readFile(copy)
    assert.deepEqual([...after.subarray(0x10, 0x14)], [0xde, 0xad, 0xbe, 0xef])
    assert.ok(after.subarray(0x14).equals(bytes.subarray(0x14)), 'nothing else changed')
  })

  test('read stops at the end of the image, and refuses to start past it', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const end = IMAGE_BYTES - 8
    const tail = await runCli([...withImage(), 'read', 'connector/img/mem', '--offset', String(end), '--length', '64', '--hex'])
    assert.equal(tail.code, 0, tail.stderr)
    assert.deepEqual(lines(tail.stdout), [`${end.toString(16).padStart(8, '0')}: ${bytes.subarray(end).toString('hex').replace(/(.{4})(?!$)/g, '$1 ').padEnd(39)}  ${[...bytes.subarray(end)].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')}`])
    const past = await runCli([...withImage(), 'read', 'connector/img/mem', '--offset', String(IMAGE_BYTES + 1), '--length', '1'])
    assert.equal(past.code, 1)
    assert.match(past.stderr, /^memweave: offset 0x[0-9a-f]+ is past the end of 'connector\/img\/mem' \(\d+ bytes\)\n$/)
  })

  test('unreadable bytes (a gap in a strict LiME image) show as ?? in the dump, and fail a raw read', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    // Two LiME ranges, [0, 0x1000) and [0x3000, 0x4000), with nothing in between.
    const header = (start: number, endInclusive: number): Buffer => {
      const h = Buffer.alloc(32)
      h.writeUInt32LE(0x4c694d45, 0)
      h.writeUInt32LE(1, 4)
      h.writeBigUInt64LE(BigInt(start), 8)
      h.writeBigUInt64LE(BigInt(endInclusive), 16)
      return h
    }
    const lime = join(dir, 'gap.lime')
    await writeFile(lime, Buffer.concat([header(0, 0xfff), Buffer.alloc(0x1000, 0x41), header(0x3000, 0x3fff), Buffer.alloc(0x1000, 0x42)]))
    const args = ['--embedded', '--with', `connector g file:${lime},strict=true`]
    const dump = await runCli([...args, 'read', 'connector/g/mem', '--offset', '0xff8', '--length', '16', '--hex'])
    assert.equal(dump.code, 0, dump.stderr)
    assert.deepEqual(lines(dump.stdout), ['00000ff8: 4141 4141 4141 4141 ???? ???? ???? ????  AAAAAAAA????????'])
    const raw = await runCli([...args, 'read', 'connector/g/mem', '--offset', '0xff8', '--length', '16'])
    assert.equal(raw.code, 1)
    assert.match(raw.stderr, /^memweave: cannot read 16 bytes of 'connector\/g\/mem' at 0xff8: .*0x1000/)
    const json = JSON.parse((await runCli([...args, 'read', 'connector/g/mem', '--offset', '0xff8', '--length', '16', '--json'])).stdout) as { pieces: { offset: number; data?: string; error?: string }[] }
    assert.equal(json.pieces[0]?.data, '4141414141414141')
    assert.equal(typeof json.pieces[1]?.error, 'string')
  })

  test('a path that is not a file is refused in one line', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const result = await runCli(['--embedded', '--with', `connector img file:${dir}/missing.raw`, 'ls'])
    assert.equal(result.code, 1)
    assert.equal(lines(result.stderr).length, 1, result.stderr)
    assert.match(result.stderr, /^memweave: --with 'connector img file:.*missing\.raw': /)
  })
})

describe('the file connector through a daemon', () => {
  test('connector new, duplicate, cat over the socket, rm', async (t) => {
    if (skipReason !== false) { t.skip(skipReason); return }
    const socket = join(dir, 'file.sock')
    // Files clients name must lie under an allowed root (the daemon's own --with is trusted).
    const daemon = await startDaemon(['--listen', `unix:${socket}`, '--log-level', 'warn', '--file-root', dirname(image), '--with', `connector img file:${image}`])
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--daemon', `unix:${socket}`, ...args])
    try {
      const created = await cli('connector', 'new', 'second', `file:${image}`)
      assert.equal(created.code, 0, created.stderr)
      assert.equal(created.stdout, "connector 'second' created (file)\n")
      const duplicate = await cli('connector', 'new', 'img', `file:${image}`)
      assert.equal(duplicate.code, 1)
      assert.equal(duplicate.stderr, "memweave: a connector named 'img' already exists\n")
      const names = JSON.parse((await cli('connector', 'ls', '--json')).stdout) as { name: string }[]
      assert.deepEqual(names.map((c) => c.name), ['img', 'second'])
      const copy = await cli('cat', 'connector/second/mem')
      assert.ok(copy.stdoutBytes.equals(bytes), 'cat over the socket gives the image')
      const refused = await cli('write', 'connector/img/mem', '--string', 'x')
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /^memweave: .*--allow-write/)
      const removed = await cli('connector', 'rm', 'second')
      assert.equal(removed.stdout, "connector 'second' removed\n")
      assert.deepEqual(lines((await cli('ls', 'connector')).stdout), ['img/', 'new', 'rm'])
    } finally {
      assert.equal((await daemon.stop()).code, 0, daemon.stderr())
    }
  })
})
