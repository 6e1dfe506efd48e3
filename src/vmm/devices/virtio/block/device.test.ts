import { fsyncSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeviceId, F_INDIRECT_DESC, F_VERSION_1, Reg, Status } from '../constants.ts';
import { TestDriver, type TestQueue } from '../testing/driver.ts';
import { testEnv, type TestEnv } from '../testing/fixture.ts';
import { BLK_F_FLUSH, BLK_F_RO, BLK_F_SEG_MAX, VirtioBlock, type VirtioBlockShared } from './device.ts';
import { BLK_S_IOERR, BLK_S_OK, BLK_S_UNSUPP, BLK_T_FLUSH, BLK_T_GET_ID, BLK_T_IN, BLK_T_OUT } from './request.ts';

// fsync watched (and failed on demand) where the backend calls it; everything else is the real fs.
vi.mock('node:fs', async (real) => {
  const fs = await real<typeof import('node:fs')>();
  return { ...fs, fsyncSync: vi.fn(fs.fsyncSync) };
});

const SECTORS = 16;
let dir: string;
let image: string;
let t: TestEnv;
let shared: VirtioBlockShared | undefined;

function pattern(len: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
}
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'schedvm-blk-'));
  image = join(dir, 'disk.img');
  writeFileSync(image, pattern(SECTORS * 512 + 100)); // a partial last sector is not exposed
});
afterEach(() => {
  if (shared) VirtioBlock.close(shared);
  shared = undefined;
  t.memory.release();
  rmSync(dir, { recursive: true, force: true });
});

function setup(opts: { readOnly?: boolean; id?: string } = {}) {
  t = testEnv();
  const blk = VirtioBlock.create({ base: 0xd000_1000, path: image, ...opts }, t.env);
  shared = blk.shared;
  const drv = new TestDriver(t.memory, blk.mmio);
  const [q] = drv.start([32], F_INDIRECT_DESC);
  return { blk, drv, q: q! };
}

function header(type: number, sector: number | bigint): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

/** Submits one request; returns the status byte, the used length and the data read. */
function request(q: TestQueue, type: number, sector: number | bigint, data: { out?: Uint8Array; inLen?: number; indirect?: boolean }) {
  const bufs = [{ data: header(type, sector) }];
  if (data.out) bufs.push({ data: data.out });
  const specs = [...bufs, ...(data.inLen ? [{ len: data.inLen, write: true }] : []), { len: 1, write: true }];
  const chain = q.add(specs, { indirect: data.indirect ?? false });
  q.kick();
  const used = q.takeUsed();
  const st = chain.buffers.at(-1)!;
  const inBuf = data.inLen ? chain.buffers.at(-2)! : undefined;
  return {
    used,
    status: q.read(st.addr, 1)[0],
    data: inBuf ? q.read(inBuf.addr, inBuf.len) : undefined,
  };
}

describe('VirtioBlock', () => {
  it('is device 2 with the capacity in 512-byte sectors and SEG_MAX in config space', () => {
    const { drv } = setup();
    expect(drv.reg(Reg.DeviceId)).toBe(DeviceId.Block);
    expect(new DataView(drv.config(0, 8).buffer).getBigUint64(0, true)).toBe(BigInt(SECTORS));
    expect(new DataView(drv.config(12, 4).buffer).getUint32(0, true)).toBe(254);
    expect(drv.deviceFeatures() & (BLK_F_SEG_MAX | BLK_F_FLUSH | BLK_F_RO | F_VERSION_1)).toBe(BLK_F_SEG_MAX | BLK_F_FLUSH | F_VERSION_1);
  });

  it('offers VIRTIO_BLK_F_RO when read-only', () => {
    const { drv } = setup({ readOnly: true });
    expect(drv.deviceFeatures() & BLK_F_RO).toBe(BLK_F_RO);
  });

  it('reads sectors into guest buffers (IN), direct and indirect', () => {
    const { q } = setup();
    const file = readFileSync(image);
    for (const indirect of [false, true]) {
      const r = request(q, BLK_T_IN, 3, { inLen: 1024, indirect });
      expect(r.status).toBe(BLK_S_OK);
      expect(r.used[0]!.len).toBe(1025);
      expect(Buffer.from(r.data!).equals(file.subarray(3 * 512, 5 * 512))).toBe(true);
    }
  });

  it('reads into data split over several descriptors', () => {
    const { q } = setup();
    const chain = q.add([{ data: header(BLK_T_IN, 1) }, { len: 100, write: true }, { len: 412, write: true }, { len: 1, write: true }]);
    q.kick();
    const got = new Uint8Array([...q.read(chain.buffers[1]!.addr, 100), ...q.read(chain.buffers[2]!.addr, 412)]);
    expect(Buffer.from(got).equals(readFileSync(image).subarray(512, 1024))).toBe(true);
    expect(q.read(chain.buffers[3]!.addr, 1)[0]).toBe(BLK_S_OK);
  });

  it('writes sectors to the file (OUT)', () => {
    const { q } = setup();
    const data = pattern(512, 99);
    const r = request(q, BLK_T_OUT, SECTORS - 1, { out: data });
    expect(r.status).toBe(BLK_S_OK);
    expect(r.used[0]!.len).toBe(1);
    expect(Buffer.from(readFileSync(image).subarray((SECTORS - 1) * 512, SECTORS * 512)).equals(Buffer.from(data))).toBe(true);
  });

  it('fails writes to a read-only device with IOERR and leaves the file untouched', () => {
    const { q } = setup({ readOnly: true });
    const before = readFileSync(image);
    const r = request(q, BLK_T_OUT, 0, { out: pattern(512, 1) });
    expect(r.status).toBe(BLK_S_IOERR);
    expect(readFileSync(image).equals(before)).toBe(true);
  });

  it('syncs the image file on FLUSH and answers OK', () => {
    const { blk, q } = setup();
    vi.mocked(fsyncSync).mockClear();
    expect(request(q, BLK_T_FLUSH, 0, {}).status).toBe(BLK_S_OK);
    expect(vi.mocked(fsyncSync).mock.calls).toEqual([[blk.shared.fd]]);
  });

  it('answers FLUSH with IOERR when the sync fails, and keeps working', () => {
    const { drv, q } = setup();
    vi.mocked(fsyncSync).mockImplementationOnce(() => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    });
    expect(request(q, BLK_T_FLUSH, 0, {}).status).toBe(BLK_S_IOERR);
    expect(drv.status & Status.NeedsReset).toBe(0);
    expect(request(q, BLK_T_FLUSH, 0, {}).status).toBe(BLK_S_OK);
  });

  it('answers FLUSH on a read-only disk with OK without syncing: nothing of ours to write back', () => {
    const { q } = setup({ readOnly: true });
    vi.mocked(fsyncSync).mockClear();
    expect(request(q, BLK_T_FLUSH, 0, {}).status).toBe(BLK_S_OK);
    expect(fsyncSync).not.toHaveBeenCalled();
  });

  it('answers GET_ID with the NUL-padded id string', () => {
    const { q } = setup({ id: 'schedvm-root' });
    const r = request(q, BLK_T_GET_ID, 0, { inLen: 20 });
    expect(r.status).toBe(BLK_S_OK);
    expect(new TextDecoder().decode(r.data!)).toBe('schedvm-root'.padEnd(20, '\0'));
  });

  it('defaults the id to the file name', () => {
    const { q } = setup();
    expect(new TextDecoder().decode(request(q, BLK_T_GET_ID, 0, { inLen: 20 }).data!).replace(/\0+$/, '')).toBe('disk.img');
  });

  it('answers an unknown request type with UNSUPP', () => {
    const { q } = setup();
    expect(request(q, 11, 0, {}).status).toBe(BLK_S_UNSUPP);
  });

  it.each([
    ['a read crossing the end of the disk', BLK_T_IN, SECTORS - 1, { inLen: 1024 }],
    ['a read starting past the end', BLK_T_IN, SECTORS, { inLen: 512 }],
    ['a read at sector 2^64 - 1', BLK_T_IN, (1n << 64n) - 1n, { inLen: 512 }],
    ['a write crossing the end of the disk', BLK_T_OUT, SECTORS - 1, { out: new Uint8Array(1024) }],
    ['a read that is not whole sectors', BLK_T_IN, 0, { inLen: 100 }],
    ['a write that is not whole sectors', BLK_T_OUT, 0, { out: new Uint8Array(100) }],
  ] as const)('fails %s with IOERR and leaves the file untouched', (_, type, sector, data) => {
    const { drv, q } = setup();
    const before = readFileSync(image);
    expect(request(q, type, sector, data).status).toBe(BLK_S_IOERR);
    expect(readFileSync(image).equals(before)).toBe(true);
    expect(drv.status & Status.NeedsReset).toBe(0);
  });

  it('needs a reset for a request without a full header', () => {
    const { blk, q } = setup();
    q.add([{ data: new Uint8Array(8) }, { len: 1, write: true }]);
    q.kick();
    expect(blk.mmio.fault).toBe('request');
  });

  it('needs a reset for a request without a status byte', () => {
    const { blk, q } = setup();
    q.add([{ data: header(BLK_T_IN, 0) }]);
    q.kick();
    expect(blk.mmio.fault).toBe('request');
  });

  it('serves requests from another instance over the same shared state (another thread)', () => {
    const { blk, q } = setup();
    const other = new VirtioBlock(blk.shared, t.env);
    const chain = q.add([{ data: header(BLK_T_IN, 2) }, { len: 512, write: true }, { len: 1, write: true }]);
    other.mmio.write(Reg.QueueNotify, new Uint8Array(4));
    expect(q.takeUsed()).toEqual([{ id: chain.head, len: 513 }]);
    expect(Buffer.from(q.read(chain.buffers[1]!.addr, 512)).equals(readFileSync(image).subarray(1024, 1536))).toBe(true);
  });
});
