/**
 * Reading QEMU command lines: option syntax (implied keys, ',,'), sizes,
 * -name forms, machine options, memory backends and QMP sockets, and
 * values of other options never taken for options.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemweaveError } from '../../errors/index.js'
import { isQemuBinary, parseQemuCommandLine, parseQemuOpts, parseQemuSize } from './qemu-cmdline.js'

describe('QEMU option values', () => {
  it('splits key=value lists with an implied first key and ,, for commas', () => {
    assert.deepEqual([...parseQemuOpts('q35,accel=tcg,max-ram-below-4g=2G', 'type')], [['type', 'q35'], ['accel', 'tcg'], ['max-ram-below-4g', '2G']])
    assert.deepEqual([...parseQemuOpts('guest=web,,1,debug-threads=on', 'guest')], [['guest', 'web,1'], ['debug-threads', 'on']])
    assert.deepEqual([...parseQemuOpts('plain', 'guest')], [['guest', 'plain']])
  })

  it('reads sizes with QEMU suffixes; bare -m numbers are MiB', () => {
    assert.equal(parseQemuSize('512M', 'B'), 512n << 20n)
    assert.equal(parseQemuSize('512', 'M'), 512n << 20n)
    assert.equal(parseQemuSize('512', 'B'), 512n)
    assert.equal(parseQemuSize('4G', 'M'), 4n << 30n)
    assert.equal(parseQemuSize('0.5G', 'M'), 512n << 20n)
    assert.equal(parseQemuSize('1T', 'B'), 1n << 40n)
    assert.equal(parseQemuSize('2048k', 'M'), 2n << 20n)
    assert.throws(() => parseQemuSize('lots', 'M'), (err: unknown) => err instanceof MemweaveError && err.kind === 'malformed')
  })
})

describe('QEMU command lines', () => {
  const fixtureArgv = [
    'qemu-system-x86_64', '-machine', 'q35,memory-backend=ram', '-accel', 'tcg', '-cpu', 'qemu64', '-m', '512M', '-smp', '1',
    '-nodefaults', '-append', '-name fake', '-qmp', 'unix:/tmp/run/qmp.sock,server=on,wait=off',
    '-name', 'guest=web1,debug-threads=on',
    '-object', 'memory-backend-file,id=ram,size=512M,mem-path=/dev/shm/web1.ram,share=on',
    '-chardev', 'socket,id=mon1,path=/tmp/run/mon.sock,server=on,wait=off', '-mon', 'chardev=mon1,mode=control',
  ]

  it('reads name, machine, RAM, backends and QMP sockets', () => {
    const cmd = parseQemuCommandLine(fixtureArgv)
    assert.equal(cmd.binary, 'qemu-system-x86_64')
    assert.equal(cmd.name, 'web1')
    assert.equal(cmd.machineType, 'q35')
    assert.equal(cmd.machineOptions.get('memory-backend'), 'ram')
    assert.equal(cmd.ramBytes, 512n << 20n)
    assert.deepEqual(cmd.memoryBackends.get('ram'), { id: 'ram', qomType: 'memory-backend-file', sizeBytes: 512n << 20n, memPath: '/dev/shm/web1.ram' })
    assert.deepEqual(cmd.qmpSockets, ['/tmp/run/qmp.sock', '/tmp/run/mon.sock'])
    assert.equal(cmd.numa, false)
  })

  it('takes a plain -name, --options, -M, -m size=, and defaults', () => {
    const cmd = parseQemuCommandLine(['/usr/bin/qemu-system-x86_64', '--name', 'db', '-M', 'pc-i440fx-7.2', '-m', 'size=2G,slots=2,maxmem=8G', '-numa', 'node'])
    assert.equal(cmd.name, 'db')
    assert.equal(cmd.machineType, 'pc-i440fx-7.2')
    assert.equal(cmd.ramBytes, 2n << 30n)
    assert.equal(cmd.numa, true)
    const bare = parseQemuCommandLine(['qemu-system-aarch64'])
    assert.equal(bare.name, undefined)
    assert.equal(bare.machineType, undefined)
    assert.equal(bare.ramBytes, undefined)
  })

  it('recognises QEMU binaries', () => {
    assert.ok(isQemuBinary('/usr/bin/qemu-system-x86_64'))
    assert.ok(isQemuBinary('qemu-kvm'))
    assert.ok(!isQemuBinary('qemu-img'))
    assert.ok(!isQemuBinary('/bin/sleep'))
  })
})
