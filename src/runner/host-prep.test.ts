import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { kernelBootElf } from '../fixtures/kernels/boot-elf.ts';
import { resolveKernel } from '../fixtures/kernels/index.ts';
import { buildSchedulers } from '../fixtures/schedulers/build.ts';
import { kernelBtf } from '../fixtures/schedulers/vmlinux.ts';
import { buildWorkload } from '../fixtures/workload/build.ts';
import { prepareScenariosOnHost, scenariosOfCommand } from './host-prep.ts';

// What preparing does (downloads, builds) is replaced: these tests check what it asks for.
vi.mock('../fixtures/kernels/index.ts', async (orig) => ({ ...(await orig()), resolveKernel: vi.fn(async () => ({ version: '7.2.13-cloud-amd64' })) }));
vi.mock('../fixtures/schedulers/build.ts', async (orig) => ({ ...(await orig()), buildSchedulers: vi.fn(async () => ({})) }));
vi.mock('../fixtures/schedulers/vmlinux.ts', async (orig) => ({ ...(await orig()), kernelBtf: vi.fn(async () => ({})) }));
vi.mock('../fixtures/kernels/boot-elf.ts', async (orig) => ({ ...(await orig()), kernelBootElf: vi.fn(async () => ({ path: '/cache/kernel-elf/k.elf' })) }));
vi.mock('../fixtures/workload/build.ts', async (orig) => ({ ...(await orig()), buildWorkload: vi.fn(async () => '/cache/schedvm-workload') }));

// Built, not written: vitest reads such docblocks in this very file.
const OPTIONS = ['@vitest-environment', 'options'].join('-');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'schedvm-host-prep-'));
  const put = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  put('scenarios/a.yaml', 'name: a\nguest: hello\nvcpus: 1\nmemory_mb: 64\ntimeout_s: 10\n');
  put('scenarios/b.yaml', 'name: b\nguest: hello\nvcpus: 1\nmemory_mb: 64\ntimeout_s: 10\n');
  put('examples/a.test.ts', `// ${OPTIONS} {"scenario": "scenarios/a.yaml"}\n`);
  put('examples/b.test.ts', `// ${OPTIONS} {"scenario": "scenarios/b.yaml", "timeout": 5}\n`);
  put('examples/plain.test.ts', 'import { test } from "vitest";\n');
  put('examples/broken.test.ts', `// ${OPTIONS} {scenario: nope}\n`);
  put('node_modules/x/c.test.ts', `// ${OPTIONS} {"scenario": "scenarios/b.yaml"}\n`);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('scenariosOfCommand', () => {
  test('takes the scenario files a schedvm run names', () => {
    expect(scenariosOfCommand(['node', 'schedvm.mjs', 'run', 'scenarios/b.yaml', '--json'], dir)).toEqual([join(dir, 'scenarios/b.yaml')]);
  });

  test("a vitest run: the docblock scenarios of the files its filters match (vitest's substring filters)", () => {
    expect(scenariosOfCommand(['npx', 'vitest', 'run', 'examples/a.test.ts'], dir)).toEqual([join(dir, 'scenarios/a.yaml')]);
    expect(scenariosOfCommand(['node', '/x/vitest.mjs', 'run', '--project', 'examples', 'b.test'], dir)).toEqual([join(dir, 'scenarios/b.yaml')]);
  });

  test('a vitest run without filters: every test file, none under node_modules, unparsable docblocks skipped', () => {
    expect(scenariosOfCommand(['npx', 'vitest', 'run'], dir).sort()).toEqual([join(dir, 'scenarios/a.yaml'), join(dir, 'scenarios/b.yaml')]);
  });

  test('a test that loads scenarios by name: those that parse are prepared too', () => {
    writeFileSync(join(dir, 'examples/named.test.ts'), "loadScenario('scenarios/a.yaml'); loadScenario(`scenarios/bad.yaml`); 'missing.yaml';\n");
    writeFileSync(join(dir, 'scenarios/bad.yaml'), 'name: bad\nvcpus: many\n');
    expect(scenariosOfCommand(['npx', 'vitest', 'run', 'named'], dir)).toEqual([join(dir, 'scenarios/a.yaml')]);
  });

  test('any other command needs nothing', () => {
    expect(scenariosOfCommand(['sh', '-c', 'echo hi'], dir)).toEqual([]);
  });
});

describe('prepareScenariosOnHost', () => {
  test('bare-metal guests need no kernel and nothing is fetched', async () => {
    expect(await prepareScenariosOnHost([join(dir, 'scenarios/a.yaml')], () => {})).toEqual([]);
  });

  test("a Linux scenario's kernel, schedulers, BTF and workload program are made ready on the host; each kernel once", async () => {
    vi.clearAllMocks();
    const linux = (name: string, extra: string) => {
      writeFileSync(join(dir, `scenarios/${name}.yaml`), `name: ${name}\nkernel: debian-sched-ext\nvcpus: 2\nmemory_mb: 512\n${extra}`);
      return join(dir, `scenarios/${name}.yaml`);
    };
    const files = [
      linux('plain', ''),
      linux('sched', 'scheduler: { name: scx_simple }\n'), // runs the workload program by default
      linux('monitored', 'monitor: { hz: 100 }\n'),
    ];
    const done = await prepareScenariosOnHost(files, () => {});
    const elf = process.arch === 'x64' ? ['boot ELF of 7.2.13-cloud-amd64'] : [];
    expect(done.map((d) => d.what)).toEqual(['kernel debian-sched-ext (7.2.13-cloud-amd64)', ...elf, 'schedulers scx_simple for 7.2.13-cloud-amd64', 'BTF of 7.2.13-cloud-amd64', 'workload program']);
    expect(kernelBootElf).toHaveBeenCalledTimes(elf.length);
    expect(resolveKernel).toHaveBeenCalledTimes(1);
    expect(buildSchedulers).toHaveBeenCalledWith({ version: '7.2.13-cloud-amd64' }, ['scx_simple']);
    expect(kernelBtf).toHaveBeenCalledTimes(1);
    expect(buildWorkload).toHaveBeenCalledTimes(1);
    vi.clearAllMocks();
    expect((await prepareScenariosOnHost([files[0]!], () => {})).map((d) => d.what)).toEqual(['kernel debian-sched-ext (7.2.13-cloud-amd64)', ...elf]);
    expect(kernelBtf).not.toHaveBeenCalled();
    expect(buildWorkload).not.toHaveBeenCalled();
  });

  test('a kernels gauntlet makes each of its kernels ready, with what its runs need', async () => {
    vi.clearAllMocks();
    writeFileSync(join(dir, 'scenarios/k.yaml'), 'name: k\nkernels: [debian-sched-ext@sid, debian-sched-ext@trixie-backports]\ntopologies: [1n1l2c1t, 1n2l1c1t]\nscheduler: { name: scx_simple }\n');
    const done = await prepareScenariosOnHost([join(dir, 'scenarios/k.yaml')], () => {});
    expect(done.filter((d) => d.what.startsWith('kernel')).map((d) => d.what)).toEqual([
      'kernel debian-sched-ext@sid (7.2.13-cloud-amd64)',
      'kernel debian-sched-ext@trixie-backports (7.2.13-cloud-amd64)',
    ]);
    expect(vi.mocked(resolveKernel).mock.calls.map((c) => c[0])).toEqual(['debian-sched-ext@sid', 'debian-sched-ext@trixie-backports']);
    expect(buildSchedulers).toHaveBeenCalledTimes(2);
    expect(kernelBtf).toHaveBeenCalledTimes(2);
  });

  test('an item that fails is logged and the rest is still made ready', async () => {
    vi.clearAllMocks();
    vi.mocked(kernelBtf).mockRejectedValueOnce(new Error('the kernel has no .BTF section\nmore'));
    vi.mocked(kernelBootElf).mockResolvedValueOnce({ note: 'spawnSync zstd ENOENT' });
    writeFileSync(join(dir, 'scenarios/s.yaml'), 'name: s\nkernel: debian-sched-ext\nvcpus: 2\nmemory_mb: 512\nscheduler: { name: scx_simple }\n');
    const logged: string[] = [];
    const done = await prepareScenariosOnHost([join(dir, 'scenarios/s.yaml')], (l) => logged.push(l));
    expect(done.map((d) => d.what)).toEqual(['kernel debian-sched-ext (7.2.13-cloud-amd64)', 'schedulers scx_simple for 7.2.13-cloud-amd64', 'workload program']);
    const elf = process.arch === 'x64' ? ['warning: could not prepare boot ELF of 7.2.13-cloud-amd64 on the host: spawnSync zstd ENOENT'] : [];
    expect(logged).toEqual([...elf, 'warning: could not prepare BTF of 7.2.13-cloud-amd64 on the host: the kernel has no .BTF section']);
  });

  test('a broken scenario is a clear error naming its file', async () => {
    writeFileSync(join(dir, 'scenarios/bad.yaml'), 'name: bad\nvcpus: many\n');
    await expect(prepareScenariosOnHost([join(dir, 'scenarios/bad.yaml')], () => {})).rejects.toThrow(/bad\.yaml:2:\d+: vcpus/);
  });
});
