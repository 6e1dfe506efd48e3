// Splits the sandbox VM's serial console into boot noise, the command's output and the
// init's marker lines (`SCHEDVM-<nonce> start|alive|exit <status>|failed`). Works on bytes, so
// the command's output passes through unchanged except for the CR the guest's tty adds
// before each LF.
import { MARKER_PREFIX } from './init-script.ts';

export type ConsoleEvent =
  | { kind: 'output'; data: Buffer }
  /** The command is about to run: everything before this was boot. */
  | { kind: 'start' }
  | { kind: 'exit'; status: number }
  /** The init could not set the sandbox up; the reason is in bootLog(). */
  | { kind: 'failed' }
  /** The init's heartbeat: the VM is still making progress; `stats` are its KVM counters. */
  | { kind: 'alive'; stats: string };

const CR = 0x0d;
const LF = 0x0a;
const BOOT_LOG_LIMIT = 64 * 1024;

export class ConsoleFilter {
  private phase: 'boot' | 'command' | 'done' = 'boot';
  private pending = Buffer.alloc(0);
  private boot = Buffer.alloc(0);
  private readonly token: Buffer;

  constructor(nonce: string) {
    this.token = Buffer.from(`${MARKER_PREFIX}${nonce} `);
  }

  push(chunk: Buffer): ConsoleEvent[] {
    if (this.done()) return [];
    this.pending = Buffer.concat([this.pending, chunk]);
    const events: ConsoleEvent[] = [];
    while (!this.done()) {
      const at = this.pending.indexOf(this.token);
      const eol = at < 0 ? -1 : this.pending.indexOf(LF, at);
      if (eol < 0) {
        // Hold back a marker that has not fully arrived, and a CR that may precede a LF.
        let end = at >= 0 ? at : this.pending.length - this.partialTokenAtEnd();
        if (this.phase === 'command' && end > 0 && this.pending[end - 1] === CR) end--;
        this.consume(end, events);
        break;
      }
      this.consume(at, events);
      const lineEnd = eol - at;
      const word = this.pending.subarray(this.token.length, lineEnd).toString('latin1').trim();
      this.pending = this.pending.subarray(lineEnd + 1);
      events.push(...this.onMarker(word));
    }
    return events;
  }

  /** The console ended (QEMU exited): whatever was held back is output after all. */
  end(): ConsoleEvent[] {
    const events: ConsoleEvent[] = [];
    if (this.phase !== 'done') this.consume(this.pending.length, events);
    this.phase = 'done';
    return events;
  }

  /** Console text before the start marker (firmware, kernel, init), for error reports. */
  bootLog(): string {
    return this.boot.toString('utf8');
  }

  private done(): boolean {
    return this.phase === 'done';
  }

  private onMarker(word: string): ConsoleEvent[] {
    const exit = /^exit (\d+)$/.exec(word);
    if (word === 'start' && this.phase === 'boot') {
      this.phase = 'command';
      return [{ kind: 'start' }];
    }
    if (exit && this.phase === 'command') {
      this.phase = 'done';
      return [{ kind: 'exit', status: Number(exit[1]) }];
    }
    const alive = /^alive(?: (.*))?$/.exec(word);
    if (alive) return this.phase === 'command' ? [{ kind: 'alive', stats: alive[1] ?? '' }] : [];
    if (word === 'failed') {
      this.phase = 'done';
      return [{ kind: 'failed' }];
    }
    return [];
  }

  private consume(n: number, events: ConsoleEvent[]): void {
    if (n <= 0) return;
    const data = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    if (this.phase === 'boot') {
      this.boot = Buffer.concat([this.boot, data]);
      if (this.boot.length > BOOT_LOG_LIMIT) this.boot = this.boot.subarray(this.boot.length - BOOT_LOG_LIMIT);
    } else if (this.phase === 'command') {
      events.push({ kind: 'output', data: stripCrBeforeLf(data) });
    }
  }

  /** Length of the longest proper prefix of the marker token that ends `pending`. */
  private partialTokenAtEnd(): number {
    const max = Math.min(this.token.length - 1, this.pending.length);
    for (let k = max; k > 0; k--) {
      if (this.pending.subarray(this.pending.length - k).equals(this.token.subarray(0, k))) return k;
    }
    return 0;
  }
}

export function stripCrBeforeLf(data: Buffer): Buffer {
  if (!data.includes(CR)) return data;
  const out = Buffer.alloc(data.length);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === CR && data[i + 1] === LF) continue;
    out[n++] = data[i]!;
  }
  return out.subarray(0, n);
}
