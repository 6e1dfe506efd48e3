import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childPids, threadStates } from './thread-states.ts';

describe('threadStates', () => {
  it("lists this process's threads with their state and syscall", () => {
    const lines = threadStates(process.pid);
    expect(lines[0]).toMatch(new RegExp(`^pid ${process.pid}: .*node`));
    expect(lines.find((l) => l.includes(`tid ${process.pid} `))).toMatch(/ state=[RSD] wchan=\S+ syscall=\S+/);
  });

  it('finds a child, blocked in a syscall (nanosleep) while it sleeps', async () => {
    const child = spawn('sleep', ['30']);
    try {
      // Until it has exec'd sleep and gone to sleep (a fixed wait was a guess at how long that takes).
      await expect.poll(() => threadStates(child.pid!)[1], { timeout: 10_000 }).toMatch(/ sleep state=S wchan=\S+ syscall=\d+ /); // in a syscall, not running
      expect(childPids()).toContain(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('says a process that has gone is gone', () => {
    expect(threadStates(2 ** 22 + 1)).toEqual([`pid ${2 ** 22 + 1}: ?`, '  (gone)']);
  });
});
