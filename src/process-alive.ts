// Whether a process still exists, for the owners of stale temporary files and locks: signal 0
// probes it without touching it. EPERM means it exists as another user's; only ESRCH says gone.
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
