/**
 * The linux OS kind runs the shared OsInstance suite on every fixture dump
 * (each kernel, with and without VMCOREINFO), opened from memory alone via
 * the file connector. The ground truth is the guest's own /proc
 * (truth.json): the exact process list and the kernel modules; the test
 * programs' processes are inspected besides a spread of the listing.
 */
import { test } from 'node:test'
import type { Connector } from '../src/connectors/index.js'
import { runOsInstanceCases } from '../src/os/os-instance.case.js'
import { linuxOsKind } from '../src/os/linux/index.js'
import { parseKindArgs } from '../src/tree/index.js'
import { linuxFixtures, NO_FIXTURES_REASON, openDump, silentLog, truthWithLateKernelThreads } from './linux-kit.js'

const FIXTURES = linuxFixtures()

if (FIXTURES.length === 0) test('linux OS cases', { skip: NO_FIXTURES_REASON }, () => {})

for (const fixture of FIXTURES) {
  runOsInstanceCases(`linux OS on ${fixture.label}`, async () => {
    const dump: Connector = await openDump(fixture.dump)
    try {
      const os = await linuxOsKind.create(parseKindArgs(''), dump, {
        allowWrite: false, log: silentLog, parentLifetime: dump.lifetime, description: `os '${fixture.label}'`,
      })
      const truth = fixture.truth
      return {
        os,
        expect: {
          kind: 'linux',
          processes: truthWithLateKernelThreads(truth, await os.processes()),
          kernelModules: truth.modules.map((m) => m.name),
        },
        inspect: Object.values(truth.testPids),
        close: async () => { await os.close(); await dump.close() },
      }
    } catch (err) {
      await dump.close()
      throw err
    }
  })
}
