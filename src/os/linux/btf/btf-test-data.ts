/**
 * Test data for the BTF tests: the host kernel's BTF (/sys/kernel/btf/vmlinux)
 * and the guest kernel's, pulled out of the Debian kernel image the fixture
 * scripts download (bzImage → xz/zstd/gzip payload → vmlinux ELF → .BTF).
 * Extracted blobs are cached under .cache/btf/; when no kernel image can be
 * had, callers get a reason to skip with.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))
const CACHE_DIR = join(REPO_ROOT, '.cache', 'btf')
const HOST_BTF = '/sys/kernel/btf/vmlinux'

export type TestBtf = { readonly ok: true; readonly name: string; readonly path: string; readonly bytes: Uint8Array } | { readonly ok: false; readonly reason: string }

export function hostBtf(): TestBtf {
  try {
    return { ok: true, name: 'host', path: HOST_BTF, bytes: readFileSync(HOST_BTF) }
  } catch (err) {
    return { ok: false, reason: `${HOST_BTF} not readable (${err instanceof Error ? err.message : String(err)})` }
  }
}

/** The guest kernel's BTF (Debian 6.1 amd64 by preference), extracted once and cached. */
export function guestBtf(): TestBtf {
  try {
    mkdirSync(CACHE_DIR, { recursive: true })
    const cached = readdirSync(CACHE_DIR).filter((name) => name.endsWith('.btf')).sort(byPreference)[0]
    if (cached !== undefined) return loaded(cached.slice(0, -4), join(CACHE_DIR, cached))
    const image = findKernelImage() ?? downloadKernelImage()
    if (typeof image === 'string') return { ok: false, reason: image }
    const btf = btfFromVmlinux(vmlinuxFromBzImage(readFileSync(image.path)))
    const path = join(CACHE_DIR, `${image.release}.btf`)
    // Written aside and renamed, so a concurrent reader never sees half a blob.
    writeFileSync(`${path}.${process.pid}.tmp`, btf)
    renameSync(`${path}.${process.pid}.tmp`, path)
    if (image.downloaded) rmSync(image.path, { force: true })
    return loaded(image.release, path)
  } catch (err) {
    return { ok: false, reason: `could not extract the guest BTF: ${err instanceof Error ? err.message : String(err)}` }
  }
}

function loaded(name: string, path: string): TestBtf {
  return { ok: true, name, path, bytes: readFileSync(path) }
}

/** Plain amd64 6.1 kernels first, then any other release. */
function byPreference(a: string, b: string): number {
  const rank = (name: string): number => (/^6\.1\.0-\d+-amd64/.test(name) ? 0 : 1)
  return rank(a) - rank(b) || a.localeCompare(b)
}

function findKernelImage(): { release: string; path: string; downloaded?: boolean } | undefined {
  const roots = [process.env['MEMWEAVE_CACHE'], join(REPO_ROOT, '.cache', 'fixtures'), '/tmp/mwc'].filter((root): root is string => root !== undefined && root !== '')
  const found: { release: string; path: string }[] = []
  for (const root of roots) {
    if (!existsSync(root)) continue
    for (const release of readdirSync(root)) {
      const path = join(root, release, 'kernel', 'vmlinuz')
      if (existsSync(path)) found.push({ release, path })
    }
  }
  return found.sort((a, b) => byPreference(a.release, b.release))[0]
}

/** Last resort: apt-get download the kernel package into a temp dir. Returns a skip reason on failure. */
function downloadKernelImage(): { release: string; path: string; downloaded: boolean } | string {
  if (process.env['MEMWEAVE_BTF_NO_DOWNLOAD'] === '1') return 'no kernel image in the fixture cache and MEMWEAVE_BTF_NO_DOWNLOAD=1'
  const work = mkdtempSync(join(tmpdir(), 'mw-btf-'))
  try {
    const depends = execFileSync('apt-cache', ['depends', '--no-recommends', '--no-suggests', 'linux-image-amd64'], { encoding: 'utf8' })
    const pkg = /Depends: (linux-image-6[^\s]*)/.exec(depends)?.[1]
    if (pkg === undefined) return 'apt-cache cannot resolve linux-image-amd64 to a versioned kernel package'
    execFileSync('apt-get', ['download', '-q', pkg], { cwd: work, stdio: 'ignore', timeout: 300_000 })
    const deb = readdirSync(work).find((name) => name.endsWith('.deb'))
    if (deb === undefined) return `apt-get download ${pkg} produced no .deb`
    execFileSync('dpkg-deb', ['-x', join(work, deb), join(work, 'root')], { stdio: 'ignore' })
    const release = pkg.replace(/^linux-image-/, '').replace(/-unsigned$/, '')
    const image = join(work, 'root', 'boot', `vmlinuz-${release}`)
    if (!existsSync(image)) return `${deb} has no boot/vmlinuz-${release}`
    const kept = join(CACHE_DIR, `${release}.vmlinuz.tmp`)
    writeFileSync(kept, readFileSync(image))
    return { release, path: kept, downloaded: true }
  } catch (err) {
    return `kernel package not available (${err instanceof Error ? err.message : String(err)})`
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The compressed kernel inside a bzImage, decompressed with the matching tool. */
export function vmlinuxFromBzImage(image: Uint8Array): Uint8Array {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength)
  if (image.byteLength < 0x250 || view.getUint32(0x202, true) !== 0x53726448) throw new Error('not a bzImage (no HdrS at 0x202)')
  const setupSects = image[0x1f1] === 0 ? 4 : image[0x1f1] ?? 4
  const start = (setupSects + 1) * 512 + view.getUint32(0x248, true)
  // The payload ends with the kernel's decompressed size (4 bytes), which the tools would call trailing garbage.
  const payload = image.subarray(start, start + view.getUint32(0x24c, true) - 4)
  const magic = Buffer.from(payload.subarray(0, 6)).toString('hex')
  const tool = magic === 'fd377a585a00' ? ['xz', '-dc'] : magic.startsWith('28b52ffd') ? ['zstd', '-dcq'] : magic.startsWith('1f8b') ? ['gzip', '-dc'] : undefined
  if (tool === undefined) throw new Error(`unknown bzImage payload compression (magic ${magic})`)
  const [cmd = '', ...args] = tool
  return execFileSync(cmd, args, { input: payload, maxBuffer: 512 * 1024 * 1024 })
}

/** The .BTF section of a 64-bit little-endian ELF file. */
export function btfFromVmlinux(elf: Uint8Array): Uint8Array {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength)
  if (view.getUint32(0, false) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not a 64-bit little-endian ELF')
  const shoff = Number(view.getBigUint64(0x28, true))
  const shentsize = view.getUint16(0x3a, true)
  const shnum = view.getUint16(0x3c, true)
  const shstrndx = view.getUint16(0x3e, true)
  const section = (index: number): { name: number; offset: number; size: number } => {
    const at = shoff + index * shentsize
    return { name: view.getUint32(at, true), offset: Number(view.getBigUint64(at + 0x18, true)), size: Number(view.getBigUint64(at + 0x20, true)) }
  }
  const names = section(shstrndx)
  for (let i = 0; i < shnum; i++) {
    const s = section(i)
    const nameStart = names.offset + s.name
    if (Buffer.from(elf.subarray(nameStart, nameStart + 5)).toString('latin1') === '.BTF\0') return elf.slice(s.offset, s.offset + s.size)
  }
  throw new Error('vmlinux has no .BTF section')
}
