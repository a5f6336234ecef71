/** Version of the program, announced in sys/info and in the protocol handshake. One leaf module every layer may import. */
export const MEMWEAVE_VERSION = '0.1.0'
