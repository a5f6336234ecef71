/**
 * The text of os/NAME/processes/readme: how the three process views name
 * their entries and what the less obvious leaves contain.
 */
import { DOT_STAND_IN, EMPTY_NAME, SLASH_STAND_IN } from './tree-names.js'

export const PROCESSES_README = `processes/ shows each process (thread group, kernel threads included) three ways:

  by-pid/PID/             one entry per pid
  by-name/NAME/           one entry per name; when several processes share a
                          name, this is the one with the LOWEST pid. Use
                          by-pid-name/ to reach the others.
  by-pid-name/NAME (PID)/ one entry per process, unambiguous

Names are the kernel's short names (comm, at most 15 bytes on Linux), made
safe as path segments: every '/' becomes '${SLASH_STAND_IN}' (U+2215 DIVISION SLASH), so
the kernel thread kworker/0:1 is listed as 'kworker${SLASH_STAND_IN}0:1'; a name that is
exactly '.' or '..' is shown as '${DOT_STAND_IN}' or '${DOT_STAND_IN.repeat(2)}' (U+2024), and an empty
name as '${EMPTY_NAME}'. Module names under modules/ use the same escaping; when two
modules share a name, the one with the lowest base keeps it and the others
are listed as NAME@0xBASE.

A process entry is pinned to one process: if it exits or its pid is reused,
open handles on it fail as stale, and the path then names the new process.

Each process has:
  info       JSON: pid, ppid, name, path, cmdline, state, uid, threads, dtb, arch
  mem        virtual address space (offset = address); unmapped pieces fail
  maps       mappings, in the exact format of Linux /proc/PID/maps
  phys_maps  one line per run of virtually and physically contiguous pages:
               VIRT_START-VIRT_END PHYS_START PERMS SIZE
             addresses as 16 hex digits; PERMS = r, w or -, x or -, then
             u (user) or s (supervisor); SIZE in hex. Built when opened
             (its size is unknown in listings). The native OS needs root:
             without CAP_SYS_ADMIN Linux hides frame numbers and the leaf
             fails with a permission error
  modules/   mapped ELF images: NAME/info, NAME/mem (offset 0 = image base)
  core       ELF core file (gdb PROGRAM core): one NT_PRSTATUS (and FXSAVE
             area, NT_PRFPREG) per thread, main thread first, NT_PRPSINFO,
             NT_AUXV, NT_FILE; where an OS cannot read registers they are
             zero; mappings that cannot be read (guard pages, [vvar]) have
             no data, and unreadable pages inside readable mappings read as
             zeros
  auxv       the auxiliary vector (u64 type/value pairs), where readable
  minidump   Windows processes only: a MINIDUMP (WinDbg, Visual Studio)
             with system info, the module list (PEB loader list) and a
             Memory64 list of the readable maps; no thread list; pages that
             cannot be read are zeros
  threads/   TID/info (JSON), TID/registers (text), TID/registers.json, for
             OS kinds that read threads. Linux guests: registers saved at the
             thread's last kernel entry (pt_regs at the top of its kernel
             stack), or the vCPU's own registers for a thread a dump caught
             running in user mode; damaged records give zeros and a warning
  environ    KEY=VALUE lines (where the OS can read the environment);
             '\\' and newlines in values are written as '\\\\' and '\\n'
`
