// Assembles vcpu-loop.x86_64.S with GNU as into the bytes vcpu-loop.x86_64.ts ships, so the VMM
// needs no binutils at run time. `node --import tsx src/vmm/vcpu/native/assemble.ts` rewrites
// that file; vcpu-loop.test.ts fails while it differs from the source.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('./vcpu-loop.x86_64.S', import.meta.url));
export const GENERATED = fileURLToPath(new URL('./vcpu-loop.x86_64.ts', import.meta.url));

/** The loop's machine code: the .text section, with the entry (vcpu_thread) at offset 0. */
export function assembleVcpuLoop(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-vcpu-loop-'));
  try {
    const obj = join(dir, 'loop.o');
    const bin = join(dir, 'loop.bin');
    execFileSync('as', ['--64', '-o', obj, SOURCE]);
    const entry = execFileSync('nm', [obj], { encoding: 'utf8' }).match(/^([0-9a-f]+) T vcpu_thread$/m);
    if (!entry || Number.parseInt(entry[1]!, 16) !== 0) throw new Error('vcpu_thread must be the first instruction of vcpu-loop.x86_64.S');
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', obj, bin]);
    return readFileSync(bin);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The TypeScript module holding `code`. */
export function renderVcpuLoopModule(code: Buffer): string {
  // Laid out as biome lays out a line this long, so lint leaves the file as written.
  const lines = ['// Generated from vcpu-loop.x86_64.S by assemble.ts (GNU as); do not edit.', 'export const VCPU_LOOP_X86_64 =', `  '${code.toString('hex')}';`];
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(GENERATED, renderVcpuLoopModule(assembleVcpuLoop()));
