/**
 * The test kit's in-memory TestOs runs the shared OsInstance suite: three
 * processes (one with mapped ELF images, one without maps like a kernel
 * thread, one whose pid was reused), and two kernel modules; the ground
 * truth is what was put in.
 */
import { virtAddr } from '../mem/index.js'
import { runOsInstanceCases } from './os-instance.case.js'
import { mapEntry, PageMemory, TestOs } from './os-test-kit.js'

const ELF_MAGIC = new Uint8Array([0x7f, 0x45, 0x4c, 0x46])

runOsInstanceCases('TestOs (os-test-kit)', async () => {
  const os = new TestOs(undefined, [
    { name: 'ext4', base: virtAddr(0xffffffffc0000000n), sizeBytes: 0x1000n, path: undefined },
    { name: 'loop', base: virtAddr(0xffffffffc0010000n), sizeBytes: 0x2000n, path: undefined },
  ])
  const mem = new PageMemory()
  mem.set(0x400000n, ELF_MAGIC)
  mem.set(0x7f0000000000n, ELF_MAGIC)
  os.add({
    pid: 42, name: 'app', mem,
    maps: [
      mapEntry(0x400000n, 0x401000n, 'r--p', '/bin/app'),
      mapEntry(0x401000n, 0x403000n, 'r-xp', '/bin/app', 0x1000n),
      mapEntry(0x600000n, 0x621000n, 'rw-p', '[heap]'),
      mapEntry(0x7f0000000000n, 0x7f0000002000n, 'r-xp', '/lib/libc.so.6'),
      mapEntry(0x7ffffffde000n, 0x7ffffffff000n, 'rw-p', '[stack]'),
    ],
  })
  os.add({ pid: 2, name: 'kthreadd', ppid: 0 })
  os.add({ pid: 7, name: 'old', startTime: 5n })
  os.add({ pid: 7, name: 'new', startTime: 900n }) // pid reuse: the old object's lifetime ends
  return {
    os,
    expect: {
      kind: 'test',
      processes: [{ pid: 2, ppid: 0, name: 'kthreadd' }, { pid: 7, name: 'new' }, { pid: 42, ppid: 1, name: 'app' }],
      kernelModules: ['ext4', 'loop'],
    },
    close: () => os.close(),
  }
})
