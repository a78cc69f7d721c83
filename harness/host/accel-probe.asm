; Accelerator probe: BIOS boot sector -> protected mode -> long mode -> integer loop -> SSE,
; then prints the marker on COM1 and exits through isa-debug-exit (port 0xf4).
; Build: nasm -f bin accel-probe.asm -o accel-probe.bin
bits 16
org 0x7c00
start:
  cli
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7c00
  lgdt [gdtr]
  mov eax, cr0
  or al, 1
  mov cr0, eax
  jmp 0x08:pm32
bits 32
pm32:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x7c00
  ; identity-map the first 2 MiB with one large page and enter long mode
  mov edi, 0x1000
  xor eax, eax
  mov ecx, 3072
  rep stosd
  mov dword [0x1000], 0x2003
  mov dword [0x2000], 0x3003
  mov dword [0x3000], 0x0083
  mov eax, 0x1000
  mov cr3, eax
  mov eax, cr4
  or eax, 1 << 5
  mov cr4, eax
  mov ecx, 0xC0000080
  rdmsr
  or eax, 1 << 8
  wrmsr
  mov eax, cr0
  or eax, 1 << 31
  mov cr0, eax
  jmp 0x18:lm64
bits 64
lm64:
  ; a guest that runs is not yet a guest that computes: spin 200M times (~0.1 s on a working
  ; accelerator, ~0.3 s under TCG), then use SSE as every x86-64 kernel does
  mov rcx, 200000000
.spin:
  add rax, rcx
  dec rcx
  jnz .spin
  mov rax, cr0
  and ax, 0xfffb
  or ax, 2
  mov cr0, rax
  mov rax, cr4
  or ax, 3 << 9
  mov cr4, rax
  pxor xmm0, xmm0
  movdqu xmm1, [rel msg]
  paddb xmm0, xmm1
  mov dx, 0x3f8
  lea rsi, [rel msg]
.next:
  lodsb
  test al, al
  jz .done
  out dx, al
  jmp .next
.done:
  mov dx, 0xf4
  xor al, al
  out dx, al
.halt:
  hlt
  jmp .halt
msg: db 'CLOUDPROBE-ACCEL-OK', 10, 0
align 8
gdt:
  dq 0
  dq 0x00cf9a000000ffff ; 0x08 code32
  dq 0x00cf92000000ffff ; 0x10 data
  dq 0x00af9a000000ffff ; 0x18 code64
gdtr:
  dw gdtr - gdt - 1
  dd gdt
times 510-($-$$) db 0
dw 0xaa55
