// The reference VMM for the exit-round-trip and memory cases: the least a KVM user can do.
// Each of VCPUS threads creates a vCPU in 64-bit mode, as schedvm starts a bare guest (flat
// segments, identity-mapped 2 MiB pages, CR0.PG, CR4.PAE, EFER.LME|LMA), running
//   mov ecx, N; mov edx, 0x510; 1: mov al, cl; out dx, al; dec ecx; jnz 1b; hlt
// (the port-flood guest's loop) and calls KVM_RUN until the hlt. The mode matters: under
// kvm_pvm a real-mode exit costs about 7% less than a long-mode one. Prints one JSON line:
// vCPU 0's KVM_RUN loop time, its exits, and the process RSS while every vCPU still exists
// minus the guest RAM pages resident.
// usage: kvm-loop N [VCPUS] [MEMORY_MB]
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CODE_GPA 0x1000
#define PML4_GPA 0x9000
#define PDPT_GPA 0xa000
#define PD_GPA 0xb000
static int vmfd, run_size;
static unsigned n_writes;
static pthread_barrier_t done;
static double loop_ns;
static unsigned long exits0;

static void die(const char *what) { perror(what); exit(1); }

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *vcpu_thread(void *arg) {
  long index = (long)arg;
  int fd = ioctl(vmfd, KVM_CREATE_VCPU, index);
  if (fd < 0) die("KVM_CREATE_VCPU");
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs sregs;
  if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  struct kvm_segment code = { .limit = 0xffffffff, .selector = 0x08, .type = 11, .present = 1, .s = 1, .l = 1, .g = 1 };
  struct kvm_segment data = { .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1, .s = 1, .db = 1, .g = 1 };
  sregs.cs = code;
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.tr.selector = 0x18; sregs.tr.type = 11; sregs.tr.present = 1; sregs.tr.s = 0; sregs.tr.unusable = 0;
  sregs.cr0 |= 0x80000031;           // PG | NE | ET | PE
  sregs.cr3 = PML4_GPA;
  sregs.cr4 |= 0x20;                 // PAE
  sregs.efer |= 0x500;               // LME | LMA
  if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };
  if (ioctl(fd, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
  unsigned long exits = 0;
  double t0 = now_ns();
  for (;;) {
    if (ioctl(fd, KVM_RUN, 0) < 0) die("KVM_RUN");
    exits++;
    if (run->exit_reason == KVM_EXIT_IO) continue; // the port write: nothing to emulate
    if (run->exit_reason == KVM_EXIT_HLT) break;
    fprintf(stderr, "vcpu %ld: unexpected exit %u\n", index, run->exit_reason);
    exit(1);
  }
  if (index == 0) { loop_ns = now_ns() - t0; exits0 = exits; }
  pthread_barrier_wait(&done); // every vCPU alive while main reads the RSS
  pthread_barrier_wait(&done);
  return NULL;
}

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256]; long kb = -1;
  while (f && fgets(line, sizeof line, f)) if (!strncmp(line, key, strlen(key))) kb = atol(line + strlen(key));
  if (f) fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  n_writes = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
  long vcpus = argc > 2 ? atol(argv[2]) : 1;
  size_t mem = (argc > 3 ? atol(argv[3]) : 64) << 20;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("/dev/kvm");
  vmfd = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vmfd < 0) die("KVM_CREATE_VM");
  run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  unsigned char *ram = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ram == MAP_FAILED) die("mmap ram");
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = mem, .userspace_addr = (unsigned long)ram };
  if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  unsigned char code[] = { 0xb9, 0, 0, 0, 0, 0xba, 0x10, 0x05, 0, 0, 0x88, 0xc8, 0xee, 0xff, 0xc9, 0x75, 0xf9, 0xf4 };
  memcpy(code + 1, &n_writes, 4);
  memcpy(ram + CODE_GPA, code, sizeof code);
  unsigned long *pml4 = (void *)(ram + PML4_GPA), *pdpt = (void *)(ram + PDPT_GPA), *pd = (void *)(ram + PD_GPA);
  pml4[0] = PDPT_GPA | 3; // present | writable
  pdpt[0] = PD_GPA | 3;
  for (int i = 0; i < 512; i++) pd[i] = ((unsigned long)i << 21) | 0x83; // the first GiB in 2 MiB pages
  pthread_barrier_init(&done, NULL, vcpus + 1);
  pthread_t *threads = calloc(vcpus, sizeof *threads);
  for (long i = 0; i < vcpus; i++) pthread_create(&threads[i], NULL, vcpu_thread, (void *)i);
  pthread_barrier_wait(&done);
  unsigned char *vec = malloc(mem / 4096);
  long guest_kb = 0;
  if (mincore(ram, mem, vec) == 0) for (size_t i = 0; i < mem / 4096; i++) guest_kb += (vec[i] & 1) * 4;
  long rss_kb = status_kb("VmRSS:");
  pthread_barrier_wait(&done);
  for (long i = 0; i < vcpus; i++) pthread_join(threads[i], NULL);
  printf("{\"loopMs\":%.3f,\"exits\":%lu,\"rssKb\":%ld,\"guestKb\":%ld}\n", loop_ns / 1e6, exits0, rss_kb, guest_kb);
  return 0;
}
