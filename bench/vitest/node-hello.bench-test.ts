// @vitest-environment node
// The reference for env-hello: the same guest booted by hand, no schedvm environment.
import { expect, test } from 'vitest';
import { buildGuest } from '../../src/fixtures/guests/build.ts';
import { shutdownVcpuPool } from '../../src/vmm/vcpu/pool.ts';
import { Vm } from '../../src/vmm/vm.ts';

test('hello through Vm directly', async () => {
  const vm = await Vm.create({ vcpus: 1, memoryMb: 64, guest: { kind: 'bare', image: await buildGuest('hello') }, timeoutMs: 30_000 });
  expect((await vm.run()).exitAction).toBe('Shutdown');
  await shutdownVcpuPool();
});
