// A hostile plugin that never returns: its leaf spins forever, blocking its
// own event loop. memweave times the call out, finds the plugin deaf to a
// ping, kills it and restarts it with backoff.
export const plugin = {
  name: 'hostile-loop', version: '1.0.0', attachesTo: 'process', filter: { name: 'sleep' },
  leaves: {
    spin: { read: () => { for (;;) { /* forever */ } } },
    'loop-alive': { read: () => 'still here\n' },
  },
}
