/**
 * What a client logs through: the three levels it uses, which a pino Logger
 * has, so callers pass theirs. Without one the client is silent with
 * SILENT_LOG instead of a pino instance: a CLI command then never loads pino
 * (about fifty modules of its startup).
 */
import type { Logger } from 'pino'

export type ClientLog = Pick<Logger, 'debug' | 'info' | 'warn'>

const ignore = (): void => {}

export const SILENT_LOG: ClientLog = { debug: ignore, info: ignore, warn: ignore }
