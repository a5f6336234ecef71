/**
 * The native OS (this host, through /proc) runs the shared OsInstance
 * suite as a live OS: processes may start, exit or exec while it runs.
 * This test's own process is inspected besides a spread of the
 * listing.
 */
import { pino } from 'pino'
import { Lifetime, parseKindArgs } from '../../tree/index.js'
import { runOsInstanceCases } from '../os-instance.case.js'
import { nativeOsKind } from './native-kind.js'

const skipReason = process.platform === 'linux' ? undefined : `native reads /proc and needs Linux, not ${process.platform}`

if (skipReason === undefined) {
  runOsInstanceCases('native OS (this host)', async () => {
    const os = await nativeOsKind.create(parseKindArgs(''), undefined, {
      allowWrite: false, log: pino({ level: 'silent' }), parentLifetime: new Lifetime('test'), description: "os 'host'",
    })
    return { os, live: true, expect: { kind: 'native', presentPids: [process.pid] }, inspect: [process.pid], close: () => os.close() }
  })
}
