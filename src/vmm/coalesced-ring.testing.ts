// Tests' stand-in for KVM's producer side of the coalesced ring.

/** KVM's side (virt/kvm/coalesced_mmio.c): one write into the ring, or false when it is full. */
export function kvmQueue(page: Uint8Array, addr: number, data: number[], pio = true): boolean {
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const max = Math.floor((page.byteLength - 8) / 24);
  const first = dv.getUint32(0, true);
  const last = dv.getUint32(4, true);
  if ((first - last - 1 + max) % max === 0) return false; // one slot always stays free
  const at = 8 + last * 24;
  dv.setBigUint64(at, BigInt(addr), true);
  dv.setUint32(at + 8, data.length, true);
  dv.setUint32(at + 12, pio ? 1 : 0, true);
  page.set(data, at + 16);
  dv.setUint32(4, (last + 1) % max, true);
  return true;
}
