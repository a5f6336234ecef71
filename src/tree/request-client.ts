/**
 * Which client a request runs for. The protocol server runs each request
 * inside runAsClient(owner), so code deep below (the object store counting
 * the connectors one client created) can ask currentClient() without the
 * Tree API carrying it. Outside a served request (startup objects, a peer's
 * own callbacks) there is no client.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

const requestClient = new AsyncLocalStorage<string>()

export function runAsClient<T>(owner: string, job: () => T): T {
  return requestClient.run(owner, job)
}

/** The owner id of the client whose request is running, or undefined. */
export function currentClient(): string | undefined {
  return requestClient.getStore()
}

/** Runs job with no client (what it starts is not charged to whoever happened to start it). */
export function outsideClients<T>(job: () => T): T {
  return requestClient.exit(job)
}
