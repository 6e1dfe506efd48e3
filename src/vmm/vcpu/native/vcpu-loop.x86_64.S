# A vCPU thread without a JavaScript runtime: it enters the guest when its exit thread says so,
# and hands every KVM_RUN return back to that thread. Started by pthread_create with rdi = its
# control block (layout in native-vcpu.ts, BLOCK_*); raw syscalls only, no libc calls, so it
# needs nothing but its own stack. Both waits spin briefly before sleeping on a futex: an
# exit handled within the spin costs no context switch, which keeps a native vCPU's exit round
# trip at a JavaScript vCPU thread's.
.set SYS_ioctl, 16
.set SYS_gettid, 186
.set SYS_futex, 202
.set FUTEX_WAIT_PRIVATE, 128
.set FUTEX_WAKE_PRIVATE, 129
.set KVM_RUN, 0xae80

# Control block (int32 words unless noted).
.set STATE, 0                   # who acts next: the values below
.set FD, 4                      # the vCPU fd
.set RESULT, 8                  # KVM_RUN's return: 0, or -errno
.set TID, 12                    # this thread's id, stored first thing
.set DOORBELL, 16               # u64: address of the exit thread's doorbell
.set SPIN, 24                   # pause iterations before sleeping
.set ASLEEP, 28                 # 1 while this thread may sleep on STATE

.set ST_RUN, 1                  # enter the guest
.set ST_HELD, 2                 # the exit thread holds the vCPU (after each KVM_RUN: RESULT holds its return)
.set ST_STOP, 3                 # leave the thread
.set ST_GONE, 4                 # the thread no longer touches its block

# Doorbell: a counter every post increments, then a flag set while the exit thread sleeps.
.set RING, 0
.set RING_ASLEEP, 4

.text
.globl vcpu_thread
vcpu_thread:
    push %rbx
    push %r12
    push %r13
    mov %rdi, %rbx
    mov DOORBELL(%rbx), %r13
    mov $SYS_gettid, %eax
    syscall
    mov %eax, TID(%rbx)
    call ring                       # the exit thread waits for the tid

wait_order:
    mov SPIN(%rbx), %r12d
spin:
    mov STATE(%rbx), %eax
    cmp $ST_RUN, %eax
    je enter_guest
    cmp $ST_STOP, %eax
    je leave
    sub $1, %r12d
    jb sleep                        # spun SPIN times (none when SPIN is 0)
    pause
    jmp spin
sleep:
    # Sleep while STATE still says HELD; the flag tells the exit thread to wake us.
    movl $1, ASLEEP(%rbx)
    mfence
    mov STATE(%rbx), %edx
    cmp $ST_HELD, %edx
    jne woken
    lea STATE(%rbx), %rdi
    mov $FUTEX_WAIT_PRIVATE, %esi
    xor %r10d, %r10d
    mov $SYS_futex, %eax
    syscall                         # returns on a wake, a signal, or a changed STATE
woken:
    movl $0, ASLEEP(%rbx)
    jmp wait_order

enter_guest:
    mov $SYS_ioctl, %eax
    mov FD(%rbx), %edi
    mov $KVM_RUN, %esi
    xor %edx, %edx
    syscall
    mov %eax, RESULT(%rbx)
    movl $ST_HELD, STATE(%rbx)
    call ring
    jmp wait_order

leave:
    movl $ST_GONE, STATE(%rbx)      # the block may be reused from here; the doorbell stays mapped
    call ring
    pop %r13
    pop %r12
    pop %rbx
    xor %eax, %eax
    ret

# Counts a post on the doorbell and wakes the exit thread if it sleeps there.
ring:
    lock incl RING(%r13)            # a full barrier: the flag read below sees a fresh value
    cmpl $0, RING_ASLEEP(%r13)
    je 1f
    mov %r13, %rdi
    mov $FUTEX_WAKE_PRIVATE, %esi
    mov $1, %edx
    mov $SYS_futex, %eax
    syscall
1:  ret
