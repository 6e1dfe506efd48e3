import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario, parseScenario } from './load.ts';
import { scenarioProblems } from './problems.testing.ts';

const problems = (text: string) => scenarioProblems(text, 'x.yaml');

describe('parseScenario', () => {
  it('applies defaults in one place', () => {
    expect(parseScenario('name: a\nguest: hello\n', 'a.yaml')).toEqual({
      name: 'a',
      guest: 'hello',
      cmdline: '',
      vcpus: 1,
      memory_mb: 64,
      timeout_s: 30,
      boot_timeout_s: 300,
      watchpoints: [],
      expect: { exit_action: 'Shutdown' },
    });
  });

  it('locates a bad value at its line and column with the field path', () => {
    expect(problems('name: a\nguest: hello\nvcpus: 0\n')).toBe('x.yaml:3:8: vcpus: Too small: expected number to be >=1');
  });

  it('names an unknown guest and lists the valid ones', () => {
    expect(problems('name: a\nguest: nope\n')).toMatch(/^x\.yaml:2:8: guest: must be one of: .*hello/);
  });

  it('rejects unknown keys at the key', () => {
    expect(problems('name: a\nguest: hello\nvcpu: 2\n')).toBe("x.yaml:3:1: vcpu: unknown field (did you mean 'vcpus'?)");
    expect(problems('name: a\nguest: hello\nexpect:\n  exit: Shutdown\n')).toBe("x.yaml:4:3: expect.exit: unknown field (did you mean 'exit_action'?)");
    expect(problems('name: a\nguest: hello\nzzzzzzzz: 1\n')).toMatch(/unknown field \(allowed: extends, name, guest, kernel, kernels, cmdline, run, vcpus, topology, topologies, memory_mb/);
  });

  it('reports a missing required field at the mapping', () => {
    expect(problems('guest: hello\n')).toMatch(/^x\.yaml:1:1: name: /);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problems('name: a\n  guest: [\n')).toMatch(/^x\.yaml:\d+:\d+: YAML: /);
  });

  it('rejects a document that is not a mapping', () => {
    expect(problems('- a\n- b\n')).toBe('x.yaml:1:1: a scenario must be a YAML mapping (key: value lines)');
  });

  it('checks nested fields', () => {
    expect(problems('name: a\nguest: hello\nexpect:\n  exit_action: Crash\n')).toMatch(/^x\.yaml:4:16: expect\.exit_action: /);
  });

  it('loads every shipped bare scenario', () => {
    const dir = join(import.meta.dirname, '../../../scenarios/bare');
    for (const f of readdirSync(dir)) expect(loadScenario(join(dir, f)).guest).toBe(f.replace(/\.yaml$/, ''));
  });

  it('names an unreadable file', () => {
    expect(() => loadScenario('/nonexistent/s.yaml')).toThrow('cannot read scenario /nonexistent/s.yaml: ENOENT');
  });
});

describe('watchpoints', () => {
  const base = 'name: a\nguest: exit-kind\nwatchpoints:\n';
  it('parses addresses as bigints, hex strings included, with defaults', () => {
    const s = parseScenario(`${base}  - { name: ek, address: 0x200000, kind: exit_kind, freeze: true }\n  - { name: hi, address: "0xffffffff81000000", len: 8 }\n`, 'w.yaml');
    expect(s.watchpoints).toEqual([
      { name: 'ek', address: 0x200000n, len: 4, on: 'write', kind: 'exit_kind', freeze: true },
      { name: 'hi', address: 0xffffffff81000000n, len: 8, on: 'write', kind: 'user', freeze: false },
    ]);
  });
  it('takes a kernel symbol instead of an address on Linux guests, and says what is wrong otherwise', () => {
    const linux = 'name: a\nkernel: host\nwatchpoints:\n';
    expect(parseScenario(`${linux}  - { name: st, symbol: system_state, offset: 4, freeze: true }\n`, 'w.yaml').watchpoints).toEqual([
      { name: 'st', symbol: 'system_state', offset: 4, len: 4, on: 'write', kind: 'user', freeze: true },
    ]);
    expect(problems(`${base}  - { name: st, symbol: system_state }\n`)).toBe('x.yaml:4:25: watchpoints.0.symbol: kernel symbols need a Linux guest (kernel:); bare-metal guests take address');
    expect(problems(`${linux}  - { name: st, symbol: system_state, address: 0x1000 }\n`)).toContain('watchpoints.0: give exactly one of address or symbol');
    expect(problems(`${linux}  - { name: st, address: 0x1000, offset: 8 }\n`)).toContain('watchpoints.0.offset: offset goes with symbol');
  });
  it('rejects a second exit_kind at its kind field', () => {
    expect(problems(`${base}  - { name: a, address: 0x200000, kind: exit_kind }\n  - { name: b, address: 0x200008, kind: exit_kind }\n`)).toBe(
      'x.yaml:5:41: watchpoints.1.kind: only one watchpoint may have kind exit_kind (it owns slot 0)',
    );
  });
  it('rejects more than four', () => {
    const five = [0, 8, 16, 24, 32].map((o, i) => `  - { name: w${i}, address: ${0x200000 + o} }\n`).join('');
    expect(problems(base + five)).toMatch(/watchpoints: at most 4 watchpoints/);
  });
  it('rejects a misaligned address and a bad length', () => {
    expect(problems(`${base}  - { name: a, address: 0x200001, len: 4 }\n`)).toMatch(/watchpoints\.0\.address: address must be aligned to len \(4\)/);
    expect(problems(`${base}  - { name: a, address: 0x200000, len: 3 }\n`)).toMatch(/watchpoints\.0\.len: /);
  });
});

describe('Linux scenarios', () => {
  it('takes a topology shorthand and derives vcpus and a Linux memory default', () => {
    const s = parseScenario('name: l\nkernel: host\ntopology: 2n4l2c2t\n', 'l.yaml');
    expect(s.topology).toEqual({ numa_nodes: 2, llcs: 4, cores_per_llc: 2, threads_per_core: 2 });
    expect(s.vcpus).toBe(16);
    expect(s.memory_mb).toBe(512);
  });
  it('takes a topology object with distances', () => {
    const s = parseScenario('name: l\nkernel: host\ntopology: { numa_nodes: 2, llcs: 2, cores_per_llc: 1, threads_per_core: 1, distances: [[10, 21], [21, 10]] }\n', 'l.yaml');
    expect(s.topology?.distances).toEqual([
      [10, 21],
      [21, 10],
    ]);
  });
  it('takes APIC ids past the xAPIC range on bare-metal guests only', () => {
    // 2n6l21c2t: 252 vCPUs whose ids reach 425 (5 core bits, 2 LLC bits per node).
    expect(parseScenario('name: b\nguest: smp\ntopology: 2n6l21c2t\n', 'b.yaml').vcpus).toBe(252);
    expect(problems('name: l\nkernel: host\ntopology: 2n6l21c2t\n')).toMatch(
      /^x\.yaml:3:11: topology: highest APIC id would be 425; a Linux guest starts CPUs with APIC ids up to 254 only .*use fewer cores per LLC/,
    );
    expect(problems('name: l\nkernel: host\ntopologies: [1n1l2c1t, 2n6l21c2t]\n')).toMatch(/topologies\.1: highest APIC id would be 425/);
    expect(parseScenario('name: l\nkernel: host\ntopology: 2n2l63c2t\n', 'l.yaml').vcpus).toBe(252); // ids up to 253
    expect(problems('name: b\nguest: smp\nvcpus: 257\n')).toMatch(/vcpus: Too big: expected number to be <=256/);
    expect(problems('name: l\nkernel: host\nvcpus: 256\n')).toMatch(/vcpus: highest APIC id would be 255; .*: give at most 255 vcpus \(bare-metal/);
  });
  it('rejects both guest and kernel, or neither', () => {
    expect(problems('name: l\nguest: hello\nkernel: host\n')).toMatch(/guest: give exactly one of guest \(bare-metal\) or kernel \(Linux\)/);
    expect(problems('name: l\n')).toMatch(/kernel: give exactly one of guest/);
  });
  it('rejects LLCs that do not divide among nodes, at the topology', () => {
    expect(problems('name: l\nkernel: host\ntopology: 2n3l1c1t\n')).toMatch(/^x\.yaml:3:11: topology: .*cannot be split evenly across 2 NUMA nodes/);
  });
  it('rejects a malformed shorthand with the expected form', () => {
    expect(problems('name: l\nkernel: host\ntopology: 2n4l2c\n')).toMatch(/topology: topology '2n4l2c': expected <N>n<L>l<C>c<T>t/);
  });
  it('rejects vcpus that contradict the topology', () => {
    expect(problems('name: l\nkernel: host\ntopology: 1n1l2c2t\nvcpus: 2\n')).toMatch(/vcpus: is 2 but the topology has 4 vCPUs/);
  });
  it('rejects run and cmdline on bare-metal guests', () => {
    expect(problems('name: l\nguest: hello\nrun: ls\n')).toMatch(/run: only Linux guests/);
  });
});

describe('extends', () => {
  const dir = join(import.meta.dirname, 'testdata/extends');
  const tmp = mkdtempSync(join(tmpdir(), 'schedvm-extends-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  it('merges a base under the extending file: mappings key by key, lists and values replaced', () => {
    const s = loadScenario(join(dir, 'child.yaml'));
    expect(s).toMatchObject({ name: 'child', guest: 'smp', memory_mb: 32, timeout_s: 7, watchpoints: [], expect: { exit_action: 'Shutdown' } });
    expect(s).not.toHaveProperty('extends');
  });
  it('follows a chain, each path relative to the file that names it', () => {
    const s = loadScenario(join(dir, 'sub/grandchild.yaml'));
    expect(s).toMatchObject({ name: 'grandchild', guest: 'smp', memory_mb: 48, timeout_s: 7 });
  });
  it('locates a problem in the file that wrote the field', () => {
    const text = 'extends: base.yaml\nname: x\nvcpus: 0\n';
    expect(() => parseScenario(text, join(dir, 'inline.yaml'))).toThrow(/inline\.yaml:3:8: vcpus: Too small/);
    expect(() => parseScenario('extends: base.yaml\nname: x\nmemory_mb: 4000\n', join(dir, 'inline.yaml'))).toThrow(/inline\.yaml:3:12: memory_mb: bare-metal/);
    expect(() => parseScenario('extends: base.yaml\nname: x\nkernel: host\n', join(dir, 'inline.yaml'))).toThrow(/base\.yaml:3:8: guest: give exactly one/); // guest is written in the base
  });
  it('lets a file change the VM shape it extends: topologies over topology or vcpus, and back', () => {
    writeFileSync(join(tmp, 'one.yaml'), 'name: one\nkernel: host\ntopology: 1n1l2c1t\n');
    writeFileSync(join(tmp, 'flat.yaml'), 'name: flat\nkernel: host\nvcpus: 3\n');
    expect(parseScenario('extends: one.yaml\nname: g\ntopologies: [1n1l2c1t, 2n2l1c1t]\n', join(tmp, 'g.yaml'))).not.toHaveProperty('topology');
    expect(parseScenario('extends: flat.yaml\nname: g\ntopologies: [1n1l2c1t]\n', join(tmp, 'g.yaml')).vcpus).toBe(2);
    expect(parseScenario('extends: flat.yaml\nname: g\ntopology: 1n1l1c2t\n', join(tmp, 'g.yaml')).vcpus).toBe(2);
    expect(parseScenario('extends: one.yaml\nname: g\nvcpus: 3\n', join(tmp, 'g.yaml')).vcpus).toBe(3);
  });
});

describe('topologies (gauntlet)', () => {
  it('expands to one scenario per topology, named by its shorthand', async () => {
    const { gauntletOf } = await import('./gauntlet.ts');
    const s = loadScenario(join(import.meta.dirname, 'testdata/extends/child.yaml'));
    const g = gauntletOf(s);
    expect(g.map((e) => e.name)).toEqual(['1n1l2c1t', '2n2l1c1t']);
    expect(g.map((e) => e.scenario.vcpus)).toEqual([2, 2]);
    expect(g.map((e) => e.scenario.name)).toEqual(['child/1n1l2c1t', 'child/2n2l1c1t']);
    expect(g[1]!.scenario.topology).toEqual({ numa_nodes: 2, llcs: 2, cores_per_llc: 1, threads_per_core: 1 });
    expect(g[1]!.scenario).not.toHaveProperty('topologies');
  });
  it('leaves a plain scenario as one entry', async () => {
    const { gauntletOf } = await import('./gauntlet.ts');
    expect(gauntletOf(parseScenario('name: p\nguest: hello\n', 'p.yaml')).map((e) => e.name)).toEqual(['p']);
  });
});

describe('kernels (gauntlet)', () => {
  it('expands kernels x topologies into <kernel>/<topology> tests, each with its kernel', async () => {
    const { gauntletOf } = await import('./gauntlet.ts');
    const s = parseScenario('name: k\nkernels: [debian-sched-ext@sid, debian-sched-ext@trixie-backports]\ntopologies: [1n1l2c1t, 2n2l1c1t]\n', 'k.yaml');
    const g = gauntletOf(s);
    expect(g.map((e) => e.name)).toEqual([
      'debian-sched-ext@sid/1n1l2c1t',
      'debian-sched-ext@sid/2n2l1c1t',
      'debian-sched-ext@trixie-backports/1n1l2c1t',
      'debian-sched-ext@trixie-backports/2n2l1c1t',
    ]);
    expect(g.map((e) => e.scenario.kernel)).toEqual(['debian-sched-ext@sid', 'debian-sched-ext@sid', 'debian-sched-ext@trixie-backports', 'debian-sched-ext@trixie-backports']);
    expect(g[3]!.scenario).not.toHaveProperty('kernels');
    expect(g[3]!.scenario.name).toBe('k/debian-sched-ext@trixie-backports/2n2l1c1t');
    expect(s.memory_mb).toBe(512); // a Linux scenario's default
  });
  it('names each test by its kernel alone without topologies', async () => {
    const { gauntletOf } = await import('./gauntlet.ts');
    const g = gauntletOf(parseScenario('name: k\nkernels: [host, debian-sched-ext]\nvcpus: 2\n', 'k.yaml'));
    expect(g.map((e) => [e.name, e.scenario.vcpus])).toEqual([
      ['host', 2],
      ['debian-sched-ext', 2],
    ]);
  });
  it('names a malformed Debian pin at its place', () => {
    expect(problems('name: k\nkernels: [debian-sched-ext@Trixie]\n')).toMatch(/^x\.yaml:2:\d+: kernels\.0: kernel 'debian-sched-ext@Trixie': after @ give a Debian suite/);
  });
  it('rejects kernel with kernels, a kernel listed twice, and kernels on a bare-metal guest', () => {
    expect(problems('name: k\nkernel: host\nkernels: [host]\n')).toMatch(/kernels: give kernel \(one VM\) or kernels \(a gauntlet\), not both/);
    expect(problems('name: k\nkernels: [host, debian-sched-ext, host]\n')).toMatch(/^x\.yaml:2:\d+: kernels\.2: host is listed twice \(also item 0\)/);
    expect(problems('name: k\nguest: hello\nkernels: [host]\n')).toMatch(/give exactly one of guest \(bare-metal\) or kernel \(Linux\)/);
  });
  it('takes a build tree relative to the scenario file, and says when it is no directory', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'schedvm-build-tree-'));
    try {
      mkdirSync(join(tmp, 'linux'));
      writeFileSync(join(tmp, 'file'), '');
      const s = parseScenario('name: b\nkernels: [{ build: linux }, debian-sched-ext]\n', join(tmp, 'b.yaml'));
      expect(s.kernels).toEqual([{ build: join(tmp, 'linux') }, 'debian-sched-ext']);
      expect(() => parseScenario('name: b\nkernel: { build: file }\n', join(tmp, 'b.yaml'))).toThrow(/b\.yaml:2:18: kernel\.build: .*file is not a directory \(the directory make ran in, or its O=\)/);
      expect(() => parseScenario('name: b\nkernel: { build: nope }\n', join(tmp, 'b.yaml'))).toThrow(/kernel\.build: cannot use .*nope as a kernel build tree: ENOENT/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
  it('lets a file swap kernel for kernels over what it extends', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'schedvm-extends-'));
    try {
      writeFileSync(join(tmp, 'one.yaml'), 'name: one\nkernel: host\nvcpus: 2\n');
      const s = parseScenario('extends: one.yaml\nname: g\nkernels: [host, debian-sched-ext]\n', join(tmp, 'g.yaml'));
      expect(s).not.toHaveProperty('kernel');
      expect(s.kernels).toHaveLength(2);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
