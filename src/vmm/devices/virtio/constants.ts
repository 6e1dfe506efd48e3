// virtio 1.x ABI numbers: virtio-mmio registers, status and feature bits, ring flags, device ids.

/** Bytes of guest-physical address space each virtio-mmio window takes. */
export const VIRTIO_MMIO_SIZE = 0x200;
export const MMIO_MAGIC = 0x74726976; // "virt"
export const MMIO_VERSION = 2;
/** Our vendor id ("SVMS" as little-endian bytes); drivers ignore it. */
export const VENDOR_ID = 0x534d5653;

/** virtio-mmio register offsets. */
export const Reg = {
  MagicValue: 0x000,
  Version: 0x004,
  DeviceId: 0x008,
  VendorId: 0x00c,
  DeviceFeatures: 0x010,
  DeviceFeaturesSel: 0x014,
  DriverFeatures: 0x020,
  DriverFeaturesSel: 0x024,
  QueueSel: 0x030,
  QueueNumMax: 0x034,
  QueueNum: 0x038,
  QueueReady: 0x044,
  QueueNotify: 0x050,
  InterruptStatus: 0x060,
  InterruptAck: 0x064,
  Status: 0x070,
  QueueDescLow: 0x080,
  QueueDescHigh: 0x084,
  QueueDriverLow: 0x090,
  QueueDriverHigh: 0x094,
  QueueDeviceLow: 0x0a0,
  QueueDeviceHigh: 0x0a4,
  ShmSel: 0x0ac,
  ShmLenLow: 0x0b0,
  ShmLenHigh: 0x0b4,
  ShmBaseLow: 0x0b8,
  ShmBaseHigh: 0x0bc,
  ConfigGeneration: 0x0fc,
  Config: 0x100,
} as const;

/** Device status bits. */
export const Status = {
  Acknowledge: 0x01,
  Driver: 0x02,
  DriverOk: 0x04,
  FeaturesOk: 0x08,
  NeedsReset: 0x40,
  Failed: 0x80,
} as const;

/** InterruptStatus bits. */
export const INT_USED_BUFFER = 0x1;
export const INT_CONFIG_CHANGE = 0x2;

/** Transport feature bits (as bigint masks). */
export const F_INDIRECT_DESC = 1n << 28n;
export const F_EVENT_IDX = 1n << 29n;
export const F_VERSION_1 = 1n << 32n;

/** Descriptor flags. */
export const DESC_F_NEXT = 0x1;
export const DESC_F_WRITE = 0x2;
export const DESC_F_INDIRECT = 0x4;
export const DESC_SIZE = 16;
/** Available ring flag: the driver does not want used-buffer interrupts. */
export const AVAIL_F_NO_INTERRUPT = 0x1;
/** The largest queue a split ring can have. */
export const MAX_QUEUE_SIZE = 32768;

export const DeviceId = { Net: 1, Block: 2, Console: 3 } as const;
