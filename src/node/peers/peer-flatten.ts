/**
 * Flattened names: every peer's connectors and OSs also appear in this
 * node's connector/ and os/ as NAME.X. A peer's own listing already holds
 * its peers' objects as C.X, so a chain A→B→C shows C's OS on A as
 * os/b.c.Y. Cycles stop here: peers already in the request's hop chain are
 * skipped (see hop-rules.ts), so each node is asked at most once per
 * listing. A peer that is down is left out of listings; naming one of its
 * objects says it is down.
 */
import type { Branch, Entry, TreeNode } from '../../tree/index.js'
import { currentVia } from '../../tree/index.js'
import { remoteBranch, remoteStat, viaTo } from './peer-branches.js'
import type { RemoteTreeContext } from './peer-branches.js'
import type { PeerDirectory } from './peer-link.js'

export function flattenedBranch(context: RemoteTreeContext, directory: PeerDirectory, kind: 'connector' | 'os'): Branch {
  return {
    type: 'branch',
    list: async (): Promise<Entry[]> => {
      const via = currentVia()
      const reachable = directory.all().flatMap((link) => {
        const session = link.current()
        return session === undefined || session.remoteNodeId === context.selfId || via.includes(session.remoteNodeId) ? [] : [{ link, session }]
      })
      const listed = await Promise.allSettled(reachable.map(async ({ link, session }) => {
        const entries = await session.list(kind, viaTo(context, session, `${kind}/${link.name}.*`))
        const cache = context.cacheOf(session)
        // Leaves (the peer's new and rm) are its controls, not objects.
        return entries.filter((e) => e.type === 'branch').map((e): Entry => {
          cache.set(`${kind}/${e.name}`, { type: 'branch' })
          return { name: `${link.name}.${e.name}`, type: 'branch' }
        })
      }))
      return listed.flatMap((result, i) => {
        if (result.status === 'fulfilled') return result.value
        context.log.debug({ err: result.reason, peer: reachable[i]?.link.name, kind }, 'a peer could not list its objects; leaving them out')
        return []
      })
    },
    get: async (name): Promise<TreeNode | undefined> => {
      const dot = name.indexOf('.')
      if (dot <= 0) return undefined
      const link = directory.get(name.slice(0, dot))
      if (link === undefined) return undefined
      const session = link.session()
      if (currentVia().includes(session.remoteNodeId)) return undefined
      const remotePath = `${kind}/${name.slice(dot + 1)}`
      const localPath = `${kind}/${name}`
      const found = await remoteStat(context, session, remotePath, localPath)
      return found?.type === 'branch' ? remoteBranch(context, link, remotePath, localPath) : undefined
    },
  }
}
