/**
 * @module memweave/plugins
 * What a plugin imports: definePlugin and the plugin types. Nothing else is
 * loaded (plugin-api has no imports), so a sandboxed plugin can use it.
 */
export { ATTACH_KINDS, OBJECT_FEATURES, definePlugin } from '../plugins/plugin-api.js'
export type {
  AttachKind, ConnectorDescriptor, DescriptorOf, LeafContent, LeafManifest, MemoryRange, ModuleDescriptor, ObjectDescriptor, ObjectFeature,
  OsDescriptor, PluginBranch, PluginContext, PluginDefinition, PluginErrorInfo, PluginEvent, PluginFilter, PluginLeaf, PluginManifest,
  PluginMapEntry, PluginModuleInfo, PluginReadPiece, PluginReadResult, PluginWritePiece, PluginWriteResult, ProcessDescriptor,
} from '../plugins/plugin-api.js'
