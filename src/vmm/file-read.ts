// Positioned reads that fill what they are given. One read(2) may return fewer bytes than
// asked for without being at the end (network filesystems, signals), so each loops.
import { readSync } from 'node:fs';

/** Fills `view` from file position `position` on; returns the bytes read, short only at end of file. */
export function fillAt(fd: number, view: Uint8Array, position: number): number {
  let done = 0;
  while (done < view.length) {
    const n = readSync(fd, view, done, view.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** `length` bytes from `position` on, fewer only where the file ends first. */
export function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  return buf.subarray(0, fillAt(fd, buf, position));
}
