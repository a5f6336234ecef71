/** The state directory (auto-generated token files live there) is the host layer's: one definition for tokens and plugin bundles. */
export { ensurePrivateDir, runtimeStateDir } from '../../host/index.js'
