/**
 * Every built-in feature of the os/NAME/ tree, as one list of mappings the
 * composition root registers (the same door plugins use). Grouped by the
 * object class they attach to.
 */
import { moduleInfoLeaf } from './module-info-leaf.js'
import { moduleMemLeaf } from './module-mem-leaf.js'
import { osInfoLeaf } from './os-info-leaf.js'
import { osKmemLeaf } from './os-kmem-leaf.js'
import { osModulesBranch } from './os-modules-branch.js'
import { osProcessesBranch } from './os-processes-branch.js'
import { osRefreshLeaf } from './os-refresh-leaf.js'
import { processAuxvLeaf } from './process-auxv-leaf.js'
import { processCoreLeaf } from './process-core-leaf.js'
import { processInfoLeaf } from './process-info-leaf.js'
import { processMapsLeaf } from './process-maps-leaf.js'
import { processMemLeaf } from './process-mem-leaf.js'
import { processModulesBranch } from './process-modules-branch.js'
import { processPhysMapsLeaf } from './process-phys-maps-leaf.js'
import { processThreadsBranch } from './process-threads-branch.js'

export const OS_MAPPINGS = [
  // os/NAME/
  osInfoLeaf, osKmemLeaf, osModulesBranch, osProcessesBranch, osRefreshLeaf,
  // os/NAME/processes/…/PID/
  processInfoLeaf, processMemLeaf, processMapsLeaf, processPhysMapsLeaf, processModulesBranch, processCoreLeaf, processThreadsBranch, processAuxvLeaf,
  // …/modules/NAME/
  moduleInfoLeaf, moduleMemLeaf,
] as const
