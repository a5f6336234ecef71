/**
 * Where tests find the real Windows triage dumps: `../shared/data/windows`
 * beside the repository (never copied into it), or $MEMWEAVE_WINDOWS_DATA.
 * Absent files give a skip reason, never a failure.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REAL_DUMPS = ['triage_x64.dmp', 'triage_arm64.dmp'] as const

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))

export function windowsDataDir(): string {
  return process.env['MEMWEAVE_WINDOWS_DATA'] ?? join(REPO_ROOT, '..', 'shared', 'data', 'windows')
}

/** The path of a real dump, or a skip reason naming where it was looked for. */
export function realDump(name: (typeof REAL_DUMPS)[number]): { path: string; skip: false } | { path: undefined; skip: string } {
  const path = join(windowsDataDir(), name)
  return existsSync(path) ? { path, skip: false } : { path: undefined, skip: `${path} is absent (real Windows triage dumps live beside the repository in ../shared/data/windows, or set MEMWEAVE_WINDOWS_DATA)` }
}
