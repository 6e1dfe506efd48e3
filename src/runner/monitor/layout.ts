// Where the monitor reads a runqueue and a task in the guest kernel: field offsets from the
// kernel's BTF (they move between kernel versions and configs), and the symbols it needs.
import type { Btf } from '../../fixtures/kernels/btf.ts';

/** Byte offsets in struct rq and struct task_struct. */
export interface RqLayout {
  nrRunning: number;
  /** rq->curr (an anonymous union with donor without CONFIG_SCHED_PROXY_EXEC). */
  curr: number;
  idle: number;
  clock: number;
  /** rq->scx.nr_running: tasks of the sched_ext class on this runqueue. */
  scxNrRunning: number;
  pid: number;
  comm: number;
}

/** The kernel symbols the monitor reads (besides the page-table root): the per-CPU runqueues, where each CPU's copy is, the online mask. */
export const MONITOR_SYMBOLS = ['runqueues', '__per_cpu_offset', '__cpu_online_mask'] as const;

/** TASK_COMM_LEN. */
export const COMM_LEN = 16;

export function rqLayout(btf: Btf): RqLayout {
  return {
    nrRunning: btf.memberOffset('rq', 'nr_running'),
    curr: btf.memberOffset('rq', 'curr'),
    idle: btf.memberOffset('rq', 'idle'),
    clock: btf.memberOffset('rq', 'clock'),
    scxNrRunning: btf.memberOffset('rq', 'scx.nr_running'),
    pid: btf.memberOffset('task_struct', 'pid'),
    comm: btf.memberOffset('task_struct', 'comm'),
  };
}
