// Seeded fuzzing of every device through its MMIO window and split rings in real guest memory:
// valid requests checked against a model, mutated chains must land in DEVICE_NEEDS_RESET, random
// rings and register writes must never throw or hang. VIRTIO_FUZZ_SEED / _ITERATIONS override.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BLK_F_FLUSH, BLK_F_RO, BLK_F_SEG_MAX, VirtioBlock } from './block/device.ts';
import { BLK_ID_BYTES, BLK_S_IOERR, BLK_S_OK, BLK_S_UNSUPP, BLK_T_FLUSH, BLK_T_GET_ID, BLK_T_IN, BLK_T_OUT } from './block/request.ts';
import { RECEIVEQ, TRANSMITQ, VirtioConsole } from './console/device.ts';
import type { Fault } from './errors.ts';
import { NET_F_MAC, NET_HDR_BYTES, RXQ, TXQ, VirtioNet } from './net/device.ts';
import { FrameRing } from './net/frame-ring.ts';
import { concat, is, Rng } from './testing/fuzz-kit.ts';
import { CHAIN_MUTATIONS, directed, type Stats, TABLE_MUTATIONS } from './testing/fuzz-case.ts';
import { DIRECTED_CHAINS, FULL_RUN, fuzz, ITERATIONS } from './testing/fuzzer.ts';

const SEED = Number(process.env.VIRTIO_FUZZ_SEED ?? 0x5eed);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// Every fault a device must have been driven into at least once in a full run (queue-index by the
// random notifications, the rest by directed chains).
const FAULTS_REACHED: Fault[] = [
  'avail-index',
  'head-index',
  'descriptor-index',
  'descriptor-loop',
  'address',
  'chain-length',
  'indirect-not-negotiated',
  'indirect-with-next',
  'indirect-table',
  'indirect-nested',
  'write-order',
  'queue-index',
  'request',
];

function expectCoverage(s: Stats): void {
  expect(directed(s)).toBeGreaterThanOrEqual(Math.floor(ITERATIONS * 0.6));
  if (!FULL_RUN) return;
  expect(directed(s)).toBeGreaterThanOrEqual(DIRECTED_CHAINS);
  expect(s.valid).toBeGreaterThan(directed(s) / 3);
  for (const m of [...CHAIN_MUTATIONS, ...TABLE_MUTATIONS]) expect(s.mutations.get(m) ?? 0, m).toBeGreaterThan(20);
  for (const f of FAULTS_REACHED) expect(s.faults.get(f) ?? 0, f).toBeGreaterThan(0);
  expect(s.faults.get('internal') ?? 0).toBe(0);
}

describe('virtio fuzz', () => {
  it('virtio-console survives random chains, rings and registers', () => {
    const s = fuzz('virtio-console', SEED, (env) => {
      const con = VirtioConsole.create({ base: 0, inputCapacity: 1 << 16 }, env);
      let input: number[] = []; // bytes injected, not yet given to the guest
      let output: number[] = []; // guest output drained
      let expected: number[] = [];
      return {
        name: 'virtio-console',
        mmio: con.mmio,
        queueCount: 2,
        deviceFeatures: 0n,
        request(r) {
          if (r.chance(0.5)) {
            const data = r.bytes(1 + r.int(300));
            return {
              queue: TRANSMITQ,
              readable: data,
              writableLen: r.chance(0.1) ? 1 + r.int(16) : 0,
              check: (_, len) => {
                is(len, 0, 'tx used length');
                expected.push(...data);
                is(output, expected, 'console output');
                output = [];
                expected = [];
              },
            };
          }
          const malformed = r.chance(0.1);
          const want = 1 + r.int(128);
          return {
            queue: RECEIVEQ,
            readable: malformed ? r.bytes(1 + r.int(8)) : new Uint8Array(0),
            writableLen: malformed ? 0 : want,
            malformed,
            before: () => {
              if (input.length < want) {
                const more = r.bytes(want);
                is(con.inject(more), want, 'injected');
                input.push(...more);
              }
            },
            check: (written, len) => {
              is(len, want, 'rx used length');
              is([...written.subarray(0, len)], input.slice(0, len), 'console input');
              input = input.slice(len);
            },
          };
        },
        pump() {
          output.push(...con.drainOutput(), ...con.drainOutput());
        },
        quiet() {
          is(output.length, 0, 'output after a rejected chain');
        },
        resync() {
          while (con.input.available > 0) con.input.drainOne();
          input = [];
          output = [];
          expected = [];
        },
        chaosHost(r) {
          if (r.chance(0.5)) con.inject(r.bytes(r.int(64)));
        },
      };
    });
    expectCoverage(s);
  });

  for (const readOnly of [false, true]) {
    it(`virtio-blk (${readOnly ? 'read-only' : 'read-write'}) survives random chains, rings and registers`, () => {
      const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'schedvm-fuzz-')); // cheap fsync
      dirs.push(dir);
      const image = join(dir, 'disk.img');
      const SECTORS = 64;
      writeFileSync(image, new Rng(7).bytes(SECTORS * 512));
      let shadow = new Uint8Array(readFileSync(image));
      const original = shadow.slice();
      let blk: VirtioBlock | undefined;
      const s = fuzz(`virtio-blk ${readOnly ? 'ro' : 'rw'}`, SEED + (readOnly ? 2 : 1), (env) => {
        blk = VirtioBlock.create({ base: 0, path: image, readOnly, id: 'fuzz-disk' }, env);
        const id = new TextEncoder().encode('fuzz-disk');
        return {
          name: 'virtio-blk',
          mmio: blk.mmio,
          queueCount: 1,
          deviceFeatures: BLK_F_SEG_MAX | BLK_F_FLUSH | (readOnly ? BLK_F_RO : 0n),
          request(r) {
            const type = r.pick([BLK_T_IN, BLK_T_IN, BLK_T_OUT, BLK_T_OUT, BLK_T_FLUSH, BLK_T_GET_ID, 2 + r.int(2 ** 31)]);
            const sector = r.pick<() => bigint>([
              () => BigInt(r.int(SECTORS)),
              () => BigInt(r.int(SECTORS)),
              () => BigInt(SECTORS - 1),
              () => BigInt(SECTORS + r.int(8)),
              () => 2n ** 64n - 1n - BigInt(r.int(4)),
              () => BigInt(r.int(2 ** 32)) << 20n,
            ])();
            const dataLen = r.chance(0.9) ? 512 * r.int(9) : r.int(4096);
            const hdr = new Uint8Array(16);
            const v = new DataView(hdr.buffer);
            v.setUint32(0, type >>> 0, true);
            v.setBigUint64(8, sector, true);
            if (r.chance(0.07)) return { queue: 0, readable: hdr.subarray(0, r.int(16)), writableLen: 1, malformed: true };
            if (r.chance(0.05)) return { queue: 0, readable: hdr, writableLen: 0, malformed: true };
            const inRange = dataLen % 512 === 0 && sector + BigInt(dataLen / 512) <= BigInt(SECTORS);
            const pos = inRange ? Number(sector) * 512 : 0;
            const statusOf = (w: Uint8Array) => w[w.length - 1];
            switch (type) {
              case BLK_T_IN:
                return {
                  queue: 0,
                  readable: hdr,
                  writableLen: dataLen + 1,
                  check: (w, len) => {
                    is(len, dataLen + 1, 'IN used length');
                    is(statusOf(w), inRange ? BLK_S_OK : BLK_S_IOERR, `IN status (sector ${sector}, ${dataLen} bytes)`);
                    if (inRange) is(w.subarray(0, dataLen), shadow.subarray(pos, pos + dataLen), 'IN data');
                  },
                };
              case BLK_T_OUT: {
                const data = r.bytes(dataLen);
                return {
                  queue: 0,
                  readable: concat(hdr, data),
                  writableLen: 1 + (r.chance(0.1) ? r.int(8) : 0),
                  check: (w, len) => {
                    is(len, 1, 'OUT used length');
                    is(statusOf(w), inRange && !readOnly ? BLK_S_OK : BLK_S_IOERR, `OUT status (sector ${sector}, ${dataLen} bytes)`);
                    if (inRange && !readOnly) shadow.set(data, pos);
                  },
                };
              }
              case BLK_T_FLUSH:
                return { queue: 0, readable: hdr, writableLen: 1, check: (w) => is(statusOf(w), BLK_S_OK, 'FLUSH status') };
              case BLK_T_GET_ID: {
                const want = r.chance(0.8) ? BLK_ID_BYTES : r.int(40);
                return {
                  queue: 0,
                  readable: hdr,
                  writableLen: want + 1,
                  check: (w, len) => {
                    is(statusOf(w), BLK_S_OK, 'GET_ID status');
                    is(len, want + 1, 'GET_ID used length');
                    const padded = new Uint8Array(Math.max(want, BLK_ID_BYTES));
                    padded.set(id);
                    is(w.subarray(0, want), padded.subarray(0, want), 'GET_ID data');
                  },
                };
              }
              default:
                return {
                  queue: 0,
                  readable: hdr,
                  writableLen: 1,
                  check: (w, len) => {
                    is(statusOf(w), BLK_S_UNSUPP, 'unknown type status');
                    is(len, 1, 'unknown type used length');
                  },
                };
            }
          },
          pump() {},
          quiet() {},
          resync() {
            shadow = new Uint8Array(readFileSync(image));
          },
          finish() {
            expect(Buffer.from(readFileSync(image)).equals(Buffer.from(shadow))).toBe(true);
            if (readOnly) expect(Buffer.from(shadow).equals(Buffer.from(original))).toBe(true);
          },
        };
      });
      VirtioBlock.close(blk!.shared);
      expectCoverage(s);
    });
  }

  it('virtio-net survives random chains, rings and registers', () => {
    const s = fuzz('virtio-net', SEED + 3, (env) => {
      const net = VirtioNet.create({ base: 0, ringCapacity: 1 << 16 }, env);
      const rxRing = new FrameRing(net.shared.rx); // the test drains it on resync
      let pending: Uint8Array[] = []; // injected, not yet received
      let sent: Uint8Array[] = [];
      return {
        name: 'virtio-net',
        mmio: net.mmio,
        queueCount: 2,
        deviceFeatures: NET_F_MAC,
        request(r) {
          if (r.chance(0.5)) {
            if (r.chance(0.08)) return { queue: TXQ, readable: r.bytes(1 + r.int(NET_HDR_BYTES - 1)), writableLen: 0, malformed: true };
            const frame = r.bytes(r.chance(0.1) ? r.int(14) : 14 + r.int(1501));
            return {
              queue: TXQ,
              readable: concat(r.bytes(NET_HDR_BYTES), frame),
              writableLen: 0,
              check: (_, len) => {
                is(len, 0, 'tx used length');
                is(sent.length, frame.length >= 14 ? 1 : 0, 'frames sent');
                if (frame.length >= 14) is(sent[0], frame, 'frame sent');
                sent = [];
              },
            };
          }
          return {
            queue: RXQ,
            readable: new Uint8Array(0),
            writableLen: NET_HDR_BYTES + 1514 + r.int(600),
            before: () => {
              if (pending.length === 0 || (pending.length < 4 && r.chance(0.3))) {
                const f = r.bytes(14 + r.int(1501));
                is(net.inject(f), true, 'inject');
                pending.push(f);
              }
            },
            check: (w, len) => {
              const f = pending.shift()!;
              is(len, NET_HDR_BYTES + f.length, 'rx used length');
              is([...w.subarray(0, NET_HDR_BYTES)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 'virtio_net_hdr');
              is(w.subarray(NET_HDR_BYTES, len), f, 'rx frame');
            },
          };
        },
        pump() {
          sent.push(...net.takeTransmitted(), ...net.takeTransmitted());
        },
        quiet() {
          is(sent.length, 0, 'frames after a rejected chain');
        },
        resync() {
          while (rxRing.pop());
          pending = [];
          sent = [];
        },
        chaosHost(r) {
          if (r.chance(0.5)) net.inject(r.bytes(r.int(2000)));
        },
      };
    });
    expectCoverage(s);
  });
});
