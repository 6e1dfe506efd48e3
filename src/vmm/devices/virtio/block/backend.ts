// The file behind a virtio-blk device: one fd, opened once by the VMM and used from any thread
// (fds are process-wide), read and written straight to and from guest RAM.
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { fillAt } from '../../../file-read.ts';
import { SECTOR_SIZE } from './request.ts';
import { HostResourceError } from '../../../errors.ts';

export interface BlockFileInfo {
  fd: number;
  readOnly: boolean;
  /** Capacity in 512-byte sectors (a partial last sector is not exposed). */
  sectors: number;
}

/** Opens a regular file as a disk image: 'r' when read-only (so writes cannot reach it), 'r+' otherwise. */
export function openBlockFile(path: string, readOnly: boolean): BlockFileInfo {
  const fd = openSync(path, readOnly ? 'r' : 'r+');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HostResourceError(`${path} is not a regular file`);
    return { fd, readOnly, sectors: Math.floor(st.size / SECTOR_SIZE) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export class BlockFile {
  constructor(private readonly info: BlockFileInfo) {}

  /** Fills `views` from `position` on; throws on an I/O error or end of file. */
  read(views: readonly Uint8Array[], position: number): void {
    let pos = position;
    for (const v of views) {
      const n = fillAt(this.info.fd, v, pos);
      if (n < v.length) throw new HostResourceError(`end of file at ${pos + n}`);
      pos += n;
    }
  }

  write(views: readonly Uint8Array[], position: number): void {
    let pos = position;
    for (const v of views) {
      for (let done = 0; done < v.length; ) {
        const n = writeSync(this.info.fd, v, done, v.length - done, pos);
        done += n;
        pos += n;
      }
    }
  }

  flush(): void {
    fsyncSync(this.info.fd);
  }
}
