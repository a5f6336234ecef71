/** parseInfoRegisters on real `info registers -a` output (QEMU 7.2, TCG, Linux 6.1 guest idle in the kernel). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseInfoRegisters } from './cpu-registers.js'

// Captured from the fixture guest (scripts/fixtures/run-guest.sh default), FPU/SSE lines cut.
const CPU0 = `CPU#0
RAX=000000000001ad40 RBX=0000000000000000 RCX=0000000000000020 RDX=4000000000000000
RSI=0000000000000083 RDI=0000000000000704 RBP=ffffffff9301aa40 RSP=ffffffff93003e98
R8 =ffff8c68df023000 R9 =00000000314e08c4 R10=00000000fffffffb R11=0000000000000000
R12=0000000000000000 R13=0000000000000000 R14=0000000000000000 R15=0000000000014790
RIP=ffffffff920592eb RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1
ES =0000 0000000000000000 00000000 00000000
CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]
SS =0018 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]
DS =0000 0000000000000000 00000000 00000000
FS =0000 0000000000000000 00000000 00000000
GS =0000 ffff8c68df000000 00000000 00000000
LDT=0000 0000000000000000 00000000 00008200 DPL=0 LDT
TR =0040 fffffe0000003000 00004087 00008900 DPL=0 TSS64-avl
GDT=     fffffe0000001000 0000007f
IDT=     fffffe0000000000 00000fff
CR0=80050033 CR2=0000000036147cd8 CR3=0000000002570000 CR4=000006f0
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 
DR6=00000000ffff0ff0 DR7=0000000000000400
EFER=0000000000000d01`

test('CR3 and CR4 of the one vCPU are read from real monitor text', () => {
  assert.deepEqual(parseInfoRegisters(`\r\n${CPU0.replaceAll('\n', '\r\n')}\r\n`), [{ cpu: 0, cr3: 0x2570000n, cr4: 0x6f0n }])
})

test('every CPU block is kept with its own number; blocks without CR3 are dropped', () => {
  const cpu3 = CPU0.replace('CPU#0', 'CPU#3').replace('CR3=0000000002570000', 'CR3=8000000004a1f001').replace('CR4=000006f0', 'CR4=000016f0')
  const noCr3 = 'CPU#5\nPC=0000000040000000 X00=0000000000000000'
  assert.deepEqual(parseInfoRegisters(`${CPU0}\n${cpu3}\n${noCr3}\n`), [
    { cpu: 0, cr3: 0x2570000n, cr4: 0x6f0n },
    { cpu: 3, cr3: 0x8000_0000_04a1_f001n, cr4: 0x16f0n },
  ])
})

test('text without registers (an error message of an old monitor) gives no CPUs', () => {
  assert.deepEqual(parseInfoRegisters('info registers: invalid option -a\n'), [])
  assert.deepEqual(parseInfoRegisters('CR3=00001000'), [{ cpu: 0, cr3: 0x1000n, cr4: undefined }])
})
