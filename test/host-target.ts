/**
 * A small C program for tests on host processes: it copies argv[1] into a
 * heap buffer, prints "PID ADDRESS", and waits for stdin to close. Also the
 * probe for optional tools (gcc, gdb, bash), whose absence skips a test with
 * its reason.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const HEAP_TARGET_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  char *buf = malloc(4096);
  strcpy(buf, argc > 1 ? argv[1] : "none");
  printf("%d %p\\n", getpid(), (void *)buf);
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  return 0;
}
`

export async function available(tool: string): Promise<boolean> {
  try {
    await run(tool, ['--version'])
    return true
  } catch {
    return false // probed on purpose: a missing tool skips its tests with a reason
  }
}

/** Compiles `source` (the heap target by default) with debug info into dir/name. */
export async function buildTarget(dir: string, name: string, source = HEAP_TARGET_C): Promise<string> {
  const program = join(dir, name)
  await writeFile(join(dir, `${name}.c`), source)
  await run('gcc', ['-O0', '-g', '-o', program, join(dir, `${name}.c`)])
  return program
}

export interface Target {
  readonly child: ChildProcessWithoutNullStreams
  readonly pid: number
  /** Heap address of the pattern. */
  readonly addr: bigint
  readonly exited: Promise<void>
}

/** Starts the heap target with argv[1] = pattern and waits for its "PID ADDRESS" line. */
export async function spawnTarget(program: string, pattern: string, env: Record<string, string> = {}): Promise<Target> {
  const child = spawn(program, [pattern], { env })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('error', reject)
  })
  const [pid = '', addr = ''] = line.trim().split(' ')
  return { child, pid: Number(pid), addr: BigInt(addr), exited }
}
