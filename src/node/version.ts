/** Versions of the program and of the node protocol (peers must match the protocol major). */
export const MEMWEAVE_VERSION = '0.1.0'
