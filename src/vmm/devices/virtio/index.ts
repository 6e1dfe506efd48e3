// virtio-mmio (version 2) devices: console, block, net. Wiring, per VM:
//  - main thread: X.createShared(opts) once per device (its `base` is the MMIO window's GPA, each
//    window VIRTIO_MMIO_SIZE bytes); an eventfd per device registered with vm.irqfd(fd, gsi);
//    a main-thread instance `new X(shared, { memory, interrupt: () => eventfdSignal(fd) })` for
//    the host side (VirtioConsole.drainOutput/inject, VirtioNet.connect/inject/takeTransmitted).
//  - each vCPU thread: `new X(shared, { memory: GuestMemory.attach(ram), interrupt })` and its
//    `.mmio` in ExitBus.mmio. Shared objects hold only SharedArrayBuffers, numbers and strings.
//  - teardown: VirtioBlock.close(shared) once no thread uses the device.
export { VIRTIO_MMIO_SIZE, DeviceId, Status as VirtioStatus } from './constants.ts';
export type { VirtioEnv, VirtioDevice } from './device.ts';
export { GuestInputError, type Fault } from './errors.ts';
export { MmioTransport } from './mmio.ts';
export { VirtioConsole, type VirtioConsoleOptions, type VirtioConsoleShared } from './console/device.ts';
export { VirtioBlock, type VirtioBlockOptions, type VirtioBlockShared } from './block/device.ts';
export { VirtioNet, type NetLink, type NetStats, type VirtioNetOptions, type VirtioNetShared } from './net/device.ts';
export { InProcessPeer, type NetBackend, type Responder } from './net/backend.ts';
export * as frames from './net/frames.ts';
