// The host architecture's machine builder: the one door from generic VMM code into an
// architecture's modules (x86_64 only; aarch64 has its debug-register logic, no machine yet).
export { buildMachine, type ArchVcpuInit, type Machine } from './x86_64/builder.ts';
