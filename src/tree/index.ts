/**
 * @module tree
 * The one tree every interface uses: branches and leaves, resolved by path
 * on each call; handles after open; a mapping registry through which OS
 * layers, connectors and plugins attach features to classes of objects.
 *
 *   path ─resolve─▶ Leaf ─open─▶ handle ─read/write/rpc─▶ OpenedLeaf
 *                                  │ (refcounted per owner, checks Lifetime)
 *   MappingRegistry: object class ─▶ [name ─▶ leaf/branch factory (+ filter)]
 */
export { Tree, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_PIECES } from './tree.js'
export type { OpenResult, Stat, TreeOptions } from './tree.js'
export type { Branch, Entry, Leaf, LeafContent, LeafFileMap, LeafMeta, OpenedLeaf, RpcContext, TreeNode } from './tree-node.js'
export { Lifetime, FOREVER_LIFETIME } from './lifetime.js'
export type { StaleCheck } from './lifetime.js'
export { HandleTable, MAX_HANDLES } from './handles.js'
export type { HandleEntry, HandleSummary } from './handles.js'
export { ChangeBus } from './change-bus.js'
export type { ChangeListener, ObjectChange, Preparer, SubscribeOptions } from './change-bus.js'
export { MappingRegistry, objectClass, nodeFor } from './mappings.js'
export type { BranchMapping, FilterFailure, LeafMapping, Mapping, ObjectClass, TreeObject } from './mappings.js'
export { dynamicBranch, lookupBranch, mergedBranch, staticBranch, entryOf } from './branches.js'
export { controlLeaf, generatedLeaf, jsonLeaf, jsonReplacer, memLeaf, readSnapshot, rpcLeaf } from './leaves.js'
export type { ControlLeafOptions, GeneratedLeafOptions, MemLeafOptions } from './leaves.js'
export { splitPath, joinPath, normalizePath, MAX_PATH_BYTES } from './path.js'
export { parseKindArgs, ArgReader } from './kind-args.js'
export type { KindArgs } from './kind-args.js'
export { parseCreateLine, parseRemoveLine, validateName, MAX_NAME_LENGTH } from './control-line.js'
export type { CreateLine, RemoveLine } from './control-line.js'
export { currentClient, runAsClient } from './request-client.js'
export { currentEventVia, currentVia, outsideRequests, runWithEventVia, runWithVia } from './hop-context.js'
