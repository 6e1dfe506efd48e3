// The architecture's machine: its builder (vm.ts) and each vCPU's setup (the vCPU thread). See arch.ts.
export { buildMachine, type ArchVcpuInit, type Machine } from './x86_64/builder.ts';
export { setupVcpu } from './x86_64/vcpu-setup.ts';
export { snapshotRegs } from './x86_64/vcpu-ioctls.ts';
