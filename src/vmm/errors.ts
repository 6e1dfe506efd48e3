// Typed errors of the VMM. Each carries a code a caller (and a test) branches on instead of a
// message: a system call's errno name (OsError, KvmError: ENOENT, EPERM, ...) or one of these.
export type VmmErrorCode =
  /** A VmConfig the VMM cannot build (the scenario layer checks what users write first). */
  | 'VMM_CONFIG'
  /** This KVM lacks a capability the config needs. */
  | 'VMM_CAPABILITY'
  /** An operation the object's state does not allow (a VM run twice, memory used after release). */
  | 'VMM_STATE'
  /** A watchpoint that cannot be armed as asked. */
  | 'VMM_WATCHPOINT'
  /** A host resource (a TAP device, a disk image, an external tool) that is not usable. */
  | 'VMM_HOST'
  /** A vCPU thread that could not be created or set up, or died. */
  | 'VMM_VCPU_START'
  /** KVM refused a model-specific register the boot state needs. */
  | 'VMM_MSR_REFUSED'
  /** An ACPI table term that cannot be encoded. */
  | 'VMM_ACPI'
  /** A wait for the guest that ran out. */
  | 'VMM_TIMEOUT'
  /** A guest address outside its type's range (guest-physical: below 2^52; guest-virtual: 64 bits), or not an integer. */
  | 'VMM_GUEST_ADDRESS';

export class VmmError extends Error {
  constructor(
    /** A VmmErrorCode, or an errno name (OsError). */
    readonly code: VmmErrorCode | (string & {}),
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'VmmError';
  }
}

export class VmmConfigError extends VmmError {
  constructor(message: string) {
    super('VMM_CONFIG', message);
    this.name = 'VmmConfigError';
  }
}

export class CapabilityError extends VmmError {
  constructor(
    readonly capability: string,
    message: string,
  ) {
    super('VMM_CAPABILITY', message);
    this.name = 'CapabilityError';
  }
}

export class VmmStateError extends VmmError {
  constructor(message: string) {
    super('VMM_STATE', message);
    this.name = 'VmmStateError';
  }
}

export class WatchpointError extends VmmError {
  constructor(message: string) {
    super('VMM_WATCHPOINT', message);
    this.name = 'WatchpointError';
  }
}

export class HostResourceError extends VmmError {
  constructor(message: string, options?: ErrorOptions) {
    super('VMM_HOST', message, options);
    this.name = 'HostResourceError';
  }
}

export class GuestAddressError extends VmmError {
  constructor(message: string) {
    super('VMM_GUEST_ADDRESS', message);
    this.name = 'GuestAddressError';
  }
}
