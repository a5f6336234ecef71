/**
 * Writes a process's ELF core file to disk (the CLI's `dump`), streaming it
 * chunk by chunk through the same reader the `core` leaf uses. All-zero
 * chunks are skipped so the file stays sparse where memory was empty.
 */
import { open } from 'node:fs/promises'
import { MemweaveError, toMemweaveError } from '../../errors/index.js'
import { planCoreFile } from './core-file-layout.js'
import { readCoreFile } from './core-file-reader.js'
import type { CoreReadStats } from './core-file-reader.js'
import type { OsProcess } from '../os-model.js'

const WRITE_CHUNK_BYTES = 8 * 1024 * 1024

export interface CoreWriteProgress {
  readonly doneBytes: bigint
  readonly totalBytes: bigint
}

export interface CoreWriteResult {
  readonly path: string
  readonly sizeBytes: bigint
  readonly mappings: number
  readonly mappingsWithData: number
  readonly zeroFilledPages: number
}

function allZero(data: Uint8Array): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false
  return true
}

export async function writeCoreFile(
  process: OsProcess,
  outPath: string,
  onProgress?: (progress: CoreWriteProgress) => void,
  signal?: AbortSignal,
): Promise<CoreWriteResult> {
  const layout = await planCoreFile(process)
  const stats: CoreReadStats = { zeroFilledPages: 0 }
  const file = await open(outPath, 'w').catch((err: unknown) => { throw toMemweaveError(err, 'os', `cannot create core file '${outPath}'`) })
  try {
    await file.write(layout.head, 0, layout.head.length, 0)
    let done = layout.dataStart
    onProgress?.({ doneBytes: done, totalBytes: layout.totalBytes })
    while (done < layout.totalBytes) {
      if (signal?.aborted === true) throw new MemweaveError('os', 'cancelled', `writing core file '${outPath}' was cancelled`)
      const length = Number(layout.totalBytes - done < BigInt(WRITE_CHUNK_BYTES) ? layout.totalBytes - done : BigInt(WRITE_CHUNK_BYTES))
      const [result] = await readCoreFile(layout, process.mem, [{ addr: done, length }], stats)
      if (result === undefined) throw new MemweaveError('os', 'internal', 'core reader returned no result')
      if (!result.ok) throw result.error
      if (!allZero(result.data)) await file.write(result.data, 0, result.data.length, Number(done))
      done += BigInt(length)
      onProgress?.({ doneBytes: done, totalBytes: layout.totalBytes })
    }
    await file.truncate(Number(layout.totalBytes))
  } catch (err) {
    throw toMemweaveError(err, 'os', `writing core file '${outPath}'`)
  } finally {
    await file.close()
  }
  return {
    path: outPath,
    sizeBytes: layout.totalBytes,
    mappings: layout.segments.length,
    mappingsWithData: layout.dataSegments.length,
    zeroFilledPages: stats.zeroFilledPages,
  }
}
