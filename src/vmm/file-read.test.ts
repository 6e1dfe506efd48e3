import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

// readSync returning one byte per call stands for a filesystem that splits reads.
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return { ...fs, readSync: (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => fs.readSync(fd, buf, offset, Math.min(length, 1), position) };
});
const { fillAt, readAt } = await import('./file-read.ts');

describe('positioned reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schedvm-file-read-'));
  const path = join(dir, 'f');
  writeFileSync(path, 'abcdefgh');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fill what they are given across short reads', () => {
    const fd = openSync(path, 'r');
    try {
      expect(readAt(fd, 4, 2).toString()).toBe('cdef');
      const view = new Uint8Array(3);
      expect(fillAt(fd, view, 0)).toBe(3);
      expect(Buffer.from(view).toString()).toBe('abc');
    } finally {
      closeSync(fd);
    }
  });

  it('come back short only at the end of the file', () => {
    const fd = openSync(path, 'r');
    try {
      expect(readAt(fd, 10, 5).toString()).toBe('fgh');
      expect(readAt(fd, 4, 8).length).toBe(0);
    } finally {
      closeSync(fd);
    }
  });
});
