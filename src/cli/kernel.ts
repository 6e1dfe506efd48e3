// `schedvm kernel fetch [debian-sched-ext[@<suite|version>]|host|<bzImage>] [--refresh]`,
// `schedvm kernel build <source dir> [--config <fragment>] [--jobs N]` and `schedvm kernel list`.
import { readdirSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cacheDir } from '../fixtures/cache.ts';
import { UserError } from '../errors.ts';
import { forwardSignals, type StopSignal, signalExitStatus } from '../sandbox/signals.ts';
import { buildKernel, cachedKernelBuilds } from '../fixtures/kernels/kernel-build.ts';
import { buildTreeKernel, cachedDebianKernels, DEBIAN_SCHED_EXT, hostKernel, type Kernel, KERNEL_SPECS, kernelWarnings, resolveKernel } from '../fixtures/kernels/index.ts';
import { protocolString, readBzImageHeader, readBzImageSetup } from '../vmm/arch.ts';

const usage = `usage: schedvm kernel fetch [${DEBIAN_SCHED_EXT}[@<suite|version>]|host|<bzImage>] [--refresh]
       schedvm kernel build <source dir> [--config <fragment>] [--jobs N]
       schedvm kernel list`;

export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { refresh: { type: 'boolean' }, config: { type: 'string' }, jobs: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [sub, spec, ...extra] = positionals;
  const buildOnly = values.config !== undefined || values.jobs !== undefined;
  const known = (sub === 'fetch' && !buildOnly) || (sub === 'list' && !buildOnly) || (sub === 'build' && spec !== undefined);
  if (values.help || extra.length || !known || (sub === 'list' && spec)) {
    process.stderr.write(`${usage}\n  <kernel> is ${KERNEL_SPECS}\n`);
    return values.help ? 0 : 2;
  }
  if (sub === 'list') return list();
  if (sub === 'build') return build(spec!, values.config, values.jobs);

  const t0 = Date.now();
  const kernel = await resolveKernel(spec ?? DEBIAN_SCHED_EXT, {
    refresh: values.refresh ?? false,
    log: (line) => process.stderr.write(`schedvm kernel: ${line}\n`),
  });
  describe(kernel);
  process.stderr.write(`schedvm kernel: ready in ${Date.now() - t0} ms\n`);
  for (const w of kernelWarnings(kernel, { schedExt: true, btf: true })) process.stderr.write(`warning: ${w}\n`);
  return 0;
}

async function build(source: string, fragment: string | undefined, jobs: string | undefined): Promise<number> {
  const n = jobs === undefined ? undefined : Number(jobs);
  if (n !== undefined && !(Number.isInteger(n) && n > 0)) throw new UserError(`--jobs: expected a whole number of jobs, got '${jobs}'`);
  // Ctrl-C, kill or a closed terminal stop make and all its jobs (their process group), not just this process.
  const stop = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const restore = forwardSignals((s) => {
    stoppedBy ??= s;
    stop.abort();
  });
  let built: Awaited<ReturnType<typeof buildKernel>>;
  try {
    built = await buildKernel(source, {
      ...(fragment !== undefined ? { fragment } : {}),
      ...(n !== undefined ? { jobs: n } : {}),
      log: (line) => process.stderr.write(`schedvm kernel: ${line}\n`),
      signal: stop.signal,
    });
  } catch (e) {
    if (stoppedBy === undefined) throw e;
    process.stderr.write(`schedvm kernel: build stopped (${stoppedBy}); a rerun continues it\n`);
    return signalExitStatus(stoppedBy);
  } finally {
    restore();
  }
  describe(buildTreeKernel(built.dir));
  process.stderr.write(`schedvm kernel: ${built.cached ? 'cached' : 'built'} in ${(built.ms / 1000).toFixed(1)} s; boot it with\n  kernel: { build: ${built.dir} }\n`);
  return 0;
}

function describe(k: Kernel): void {
  const h = readBzImageHeader(readBzImageSetup(k.bzImage), k.bzImage);
  const mb = (statSync(k.bzImage).size / 1e6).toFixed(1);
  const options = `sched_ext ${yn(k, 'CONFIG_SCHED_CLASS_EXT')}, BTF ${yn(k, 'CONFIG_DEBUG_INFO_BTF')}`;
  const config = k.config ? `${k.config.size} options, ${options}` : 'none found';
  const lines = [
    `${k.name}: ${k.version}${k.suite ? ` (Debian ${k.suite})` : ''}`,
    `  bzImage     ${k.bzImage} (${mb} MB, boot protocol ${protocolString(h.version)})`,
    `  config      ${config}`,
    `  modules     ${k.modulesDir ?? 'none found'}`,
    `  System.map  ${k.systemMap ?? 'none (symbols: /proc/kallsyms in the guest)'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function list(): number {
  const row = (k: Kernel, spec: string) =>
    `${spec.padEnd(40)} ${k.version.padEnd(28)} ${(k.suite ?? '-').padEnd(17)} sched_ext ${yn(k, 'CONFIG_SCHED_CLASS_EXT').padEnd(3)} BTF ${yn(k, 'CONFIG_DEBUG_INFO_BTF').padEnd(3)} ${k.bzImage}`;
  // Named as a scenario pins it: the exact release always resolves to this cached kernel.
  const rows = cachedDebianKernels().map((k) => row(k, `${DEBIAN_SCHED_EXT}@${k.version}`));
  try {
    rows.push(row(hostKernel(), 'host'));
  } catch {
    // No readable /boot kernel: nothing to list for it.
  }
  for (const dir of cachedKernelBuilds()) {
    try {
      rows.push(row(buildTreeKernel(dir), `{ build: ${dir} }`));
    } catch (e) {
      rows.push(`{ build: ${dir} } unusable: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const partial = readdirSync(cacheDir('kernels')).filter((d) => d.startsWith('.staging-'));
  const header = `${'kernel'.padEnd(40)} ${'release'.padEnd(28)} ${'suite'.padEnd(17)} options`;
  process.stdout.write(rows.length ? `${[header, ...rows].join('\n')}\n` : `no kernels: try 'schedvm kernel fetch'\n`);
  if (partial.length) process.stderr.write(`(${partial.length} fetch(es) in progress or interrupted under ${cacheDir('kernels')})\n`);
  return 0;
}

/** '?' only without a config: an option the config does not mention is one that kernel lacks. */
function yn(k: Kernel, option: string): string {
  if (!k.config) return '?';
  const v = k.config.get(option) ?? 'n';
  return v === 'n' ? 'no' : v;
}
