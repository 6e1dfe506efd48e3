# Case 3's guest: vCPU 0 writes N bytes (rdx, default 1 MiB) straight to COM1's transmit
# register, 63 'x' and a newline per 64 bytes, then resets. No LSR polling: the UART is always
# ready (the writes queue in KVM's coalesced ring; a full ring exits).
.include "guest.inc"

.set DEFAULT_N, 1048576

.text
.globl _start
_start:
    ONLY_VCPU0
    mov %rdx, %rcx
    test %rcx, %rcx
    jnz 1f
    mov $DEFAULT_N, %ecx
1:  mov $COM1, %edx
2:  mov $'x', %al
    test $63, %cl
    jnz 3f
    mov $'\n', %al
3:  out %al, %dx
    dec %rcx
    jnz 2b
    RESET
