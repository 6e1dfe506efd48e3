// What each thread of a process is doing, from /proc: for a test worker that stopped answering,
// the evidence of where it is stuck (the syscall it sits in, the kernel function it waits in).
import { readdirSync, readFileSync } from 'node:fs';

const readOr = (path: string, fallback = '?') => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback; // gone meanwhile, or not ours to read
  }
};

/** The processes whose parent is `parent` (this process's by default). */
export function childPids(parent = process.pid): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      // /proc/<pid>/stat: "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
      const stat = readOr(`/proc/${pid}/stat`, '');
      return stat !== '' && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
    })
    .map(Number);
}

/**
 * One line for the process, then one per thread: its name, scheduler state, the kernel
 * function it waits in (wchan) and the syscall it is in (number and first arguments; `running`
 * when in user space).
 */
export function threadStates(pid: number): string[] {
  const cmd = readOr(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim().slice(0, 160);
  const lines = [`pid ${pid}: ${cmd}`];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [...lines, '  (gone)'];
  }
  for (const tid of tids) {
    const at = `/proc/${pid}/task/${tid}`;
    const stat = readOr(`${at}/stat`, '');
    const state = stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] : '?';
    const syscall = readOr(`${at}/syscall`).split(' ').slice(0, 4).join(' ');
    lines.push(`  tid ${tid} ${readOr(`${at}/comm`)} state=${state} wchan=${readOr(`${at}/wchan`)} syscall=${syscall}`);
  }
  return lines;
}
