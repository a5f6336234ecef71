/**
 * @module plugins
 * Features attached to objects (process, module, os, connector) by filter.
 * A plugin is a definition (definePlugin) with leaves and branches; it
 * becomes tree mappings through one path, whatever runs its handlers:
 *
 *   definition ─▶ manifest (checked) ─▶ backend ─▶ pluginMappings ─▶ registry.add
 *                                        ├─ InProcessBackend: built-ins, in the daemon
 *                                        └─ UserPlugin: a sandboxed process (no network, nobody,
 *                                           permission model) reached over a framed msgpack pipe;
 *                                           every callback checked against its call's capability token
 *
 * Built-ins: environ, strings, scan (processes and connectors), bash-history.
 */
export { ATTACH_KINDS, OBJECT_FEATURES, definePlugin } from './plugin-api.js'
export type {
  AttachKind, ConnectorDescriptor, DescriptorOf, LeafContent, LeafManifest, MemoryRange, ModuleDescriptor, ObjectDescriptor, ObjectFeature,
  OsDescriptor, PluginBranch, PluginContext, PluginDefinition, PluginErrorInfo, PluginEvent, PluginFilter, PluginLeaf, PluginManifest,
  PluginMapEntry, PluginModuleInfo, PluginReadPiece, PluginReadResult, PluginWritePiece, PluginWriteResult, ProcessDescriptor,
} from './plugin-api.js'
export { builtinPlugins, BUILTIN_PLUGIN_MANIFESTS, BUILTIN_PLUGIN_MAPPINGS, inProcessBackends } from './builtin-plugins.js'
export { InProcessBackend } from './in-process-backend.js'
export { pluginMappings } from './plugin-mappings.js'
export type { ChunkSource, LeafOutput, PluginBackend, PluginTarget, ProgressSink } from './plugin-backend.js'
export { validateManifest } from './manifest-check.js'
export { checkFilter, compileFilter } from './object-filter.js'
export { connectorAccess, descriptorKey, moduleAccess, osAccess, processAccess } from './object-access.js'
export type { ObjectAccess } from './object-access.js'
export { PluginHost, loadUserPlugin, pluginHostFor } from './sandbox/plugin-host.js'
export type { LoadOptions, PluginHostOptions } from './sandbox/plugin-host.js'
export type { PluginSummary, Backoff } from './sandbox/user-plugin.js'
export { DEFAULT_RUN_LIMITS } from './sandbox/run-limits.js'
export type { RunLimits, ExitInfo } from './sandbox/run-limits.js'
export { DEFAULT_SANDBOX_LIMITS } from './sandbox/launch-plan.js'
export type { SandboxLimits } from './sandbox/launch-plan.js'
export { parseLoadLine } from './sandbox/sys-plugins.js'
export { startBundler } from './sandbox/esbuild-loader.js'
export { formatEnviron } from './builtins/environ.js'
export { scanMemory } from './builtins/scan.js'
export type { ScanMatch, ScanResult } from './builtins/scan.js'
export type { PluginHostNode } from './sandbox/host-node.js'
