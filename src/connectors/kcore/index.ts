/**
 * @module connectors/kcore
 * The `kcore` connector: the host's physical RAM through /proc/kcore.
 *
 *   ELF header ─▶ PT_LOADs whose p_vaddr - p_paddr is the direct map offset ─▶ RangeMap (phys → file offset)
 *   read([pieces]) ─▶ PreadMemory (merged extents, pread on one fd) ─▶ views
 *   PT_NOTE ─▶ hints.elfNotes, hints.vmcoreinfo
 */
export { kcoreConnectorKind, KCORE_USAGE, DEFAULT_KCORE_PATH } from './kcore-connector.js'
export { parseKcore } from './kcore-layout.js'
export type { KcoreLayout, KcoreSource } from './kcore-layout.js'
