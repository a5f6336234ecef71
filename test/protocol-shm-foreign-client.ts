/**
 * A client run as another user (nobody) by protocol-shm-hostile.test.ts:
 * it cannot read the victim's ring file, offers it anyway (the daemon must
 * refuse it), then connects normally with a ring of its own in /dev/shm (a
 * root daemon takes rings of any user that proves it owns them) and reads.
 * Prints one JSON line with what happened.
 *
 *   node --import tsx protocol-shm-foreign-client.ts unix:/path/mw.sock /dev/shm/…/memweave-victim
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { connectClient, PROTOCOL_VERSION } from '../src/net/index.js'
import { RING_KEY_BYTES } from '../src/net/data-ring.js'
import { RawPeer } from './protocol-kit.js'

const [url = '', victim = ''] = process.argv.slice(2)
let victimReadable: boolean
try {
  readFileSync(victim)
  victimReadable = true
} catch (err) {
  if (!(typeof err === 'object' && err !== null && 'code' in err && err.code === 'EACCES')) throw err
  victimReadable = false
}
const peer = await RawPeer.connect(url)
peer.send({ id: 0, op: 'hello', version: PROTOCOL_VERSION, dataPath: victim, dataKey: randomBytes(RING_KEY_BYTES) })
const stolen = (await peer.reply(0)).result
peer.ws.close()
const client = await connectClient(url, { name: 'foreign' })
const { handle } = await client.open('data/a')
const [piece] = await client.read(handle, [{ addr: 0n, length: 1 << 20 }])
process.stdout.write(`${JSON.stringify({
  uid: process.getuid?.(),
  pid: process.pid,
  victimReadable,
  stolen: typeof stolen === 'object' && stolen !== null && 'dataRing' in stolen ? stolen.dataRing : undefined,
  ownRing: client.dataRing,
  sha256: piece?.ok === true ? createHash('sha256').update(piece.data).digest('hex') : undefined,
})}\n`)
await client.disconnect()
