// A tiny futex-style lock in shared memory: device state is driven from several vCPU threads.
export function lock(word: Int32Array, index: number): void {
  while (Atomics.compareExchange(word, index, 0, 1) !== 0) {
    Atomics.wait(word, index, 1, 1);
  }
}
export function unlock(word: Int32Array, index: number): void {
  Atomics.store(word, index, 0);
  Atomics.notify(word, index, 1);
}
