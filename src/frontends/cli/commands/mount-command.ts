/**
 * `memweave mount MOUNTPOINT`: mounts a daemon's tree (or, with --embedded,
 * an in-process node's) as a FUSE file system. Only its definition: the
 * action loads mount-actions.ts (and the FUSE frontend) when it runs.
 */
import type { Command } from 'commander'
import { globalsOf } from '../globals.js'

export interface MountOptions {
  readOnly?: boolean
  allowOther?: boolean
  uid?: string
  gid?: string
}

export function addMountCommand(program: Command): void {
  program.command('mount').description('mount the tree as a file system (until SIGINT or SIGTERM)')
    .argument('<mountpoint>', 'an existing directory')
    .option('--read-only', 'mount read-only (control leaves included)')
    .option('--allow-other', 'let other users use the mount')
    .option('--uid <uid>', 'owner of every file (default: the mounting user)')
    .option('--gid <gid>', 'group of every file')
    .action(async (mountpoint: string, options: MountOptions, command: Command) => {
      const { mountCommand } = await import('./mount-actions.js')
      await mountCommand(globalsOf(command), mountpoint, options)
    })
}
