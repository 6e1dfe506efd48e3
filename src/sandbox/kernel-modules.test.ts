import { describe, expect, test } from 'vitest';
import { missingModules, moduleLoadOrder, moduleName, parseModuleIndex, SANDBOX_MODULES } from './kernel-modules.ts';

// Excerpt of Debian 6.1's modules.dep for what the sandbox loads.
const DEP = `kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko
kernel/arch/x86/kvm/kvm-amd.ko: kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko
kernel/virt/lib/irqbypass.ko:
kernel/drivers/crypto/ccp/ccp.ko:
kernel/fs/netfs/netfs.ko:
kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko
kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko
kernel/net/9p/9pnet.ko:
kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
`;
const base = (p: string) => p.split('/').pop();

describe('moduleLoadOrder', () => {
  test('loads each dependency first, once, in the order the notes verified', () => {
    const order = moduleLoadOrder(parseModuleIndex(DEP, ''), SANDBOX_MODULES).map(base);
    expect(order).toEqual([
      'irqbypass.ko',
      'kvm.ko',
      'ccp.ko',
      'kvm-amd.ko',
      'virtio_ring.ko',
      'virtio.ko',
      'virtio_pci_modern_dev.ko',
      'virtio_pci_legacy_dev.ko',
      'virtio_pci.ko',
      '9pnet.ko',
      '9pnet_virtio.ko',
      'netfs.ko',
      'fscache.ko',
      '9p.ko',
    ]);
  });

  test('skips built-in modules and their absence from modules.dep', () => {
    const dep = DEP.split('\n')
      .filter((l) => !l.startsWith('kernel/drivers/virtio/virtio_pci.ko'))
      .join('\n');
    const index = parseModuleIndex(dep, 'kernel/drivers/virtio/virtio_pci.ko\n');
    expect(moduleLoadOrder(index, ['virtio_pci'])).toEqual([]);
    expect(missingModules(index, SANDBOX_MODULES)).toEqual([]);
  });

  test('names a module that is neither loadable nor built in', () => {
    const index = parseModuleIndex('kernel/fs/9p/9p.ko:\n', '');
    expect(missingModules(index, SANDBOX_MODULES)).toEqual(['kvm-amd', 'virtio_pci', '9pnet_virtio']);
    expect(() => moduleLoadOrder(index, ['kvm-amd'])).toThrow(/kvm-amd/);
  });
});

test('moduleName strips directories and compression and treats - as _', () => {
  expect(moduleName('kernel/arch/x86/kvm/kvm-amd.ko.xz')).toBe('kvm_amd');
  expect(moduleName('kernel/fs/9p/9p.ko.zst')).toBe('9p');
  expect(moduleName('9pnet_virtio')).toBe('9pnet_virtio');
});
