// A hostile plugin that allocates without bound: 'heap' grows the V8 heap
// (stopped by --max-old-space-size), 'buffers' grows memory outside the heap
// (stopped by the RSS watchdog or the address-space limit).
export const plugin = {
  name: 'hostile-alloc', version: '1.0.0', attachesTo: 'process', filter: { name: 'sleep' },
  leaves: {
    heap: {
      read: () => {
        const hoard = []
        // oxlint-disable-next-line unicorn/no-new-array -- growing the heap as fast as possible is the point (Array.from is ~20x slower)
        for (;;) hoard.push(new Array(1e5).fill(Math.random()))
      },
    },
    buffers: {
      read: async () => {
        const hoard = []
        for (;;) {
          hoard.push(Buffer.alloc(16 * 1024 * 1024, 1))
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
      },
    },
    'alloc-alive': { read: () => 'still here\n' },
  },
}
