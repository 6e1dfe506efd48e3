import { afterEach, describe, expect, it } from 'vitest';
import { DeviceId, F_VERSION_1, Reg } from '../constants.ts';
import { TestDriver, type TestQueue } from '../testing/driver.ts';
import { testEnv, type TestEnv } from '../testing/fixture.ts';
import { InProcessPeer } from './backend.ts';
import { NET_F_MAC, NET_HDR_BYTES, RXQ, TXQ, VirtioNet } from './device.ts';
import { ARP_REQUEST, arpResponder, buildArp, buildUdpFrame, macBytes, parseArp, parseUdpFrame, udpReply } from './frames.ts';

const GUEST = { mac: '52:54:00:12:34:56', ip: '10.0.2.15' };
const HOST = { mac: '52:54:00:00:00:02', ip: '10.0.2.2' };
let t: TestEnv;
afterEach(() => t.memory.release());

function setup(opts: { ringCapacity?: number } = {}) {
  t = testEnv();
  const net = VirtioNet.create({ base: 0xd000_2000, mac: GUEST.mac, ...opts }, t.env);
  const drv = new TestDriver(t.memory, net.mmio);
  const [rx, tx] = drv.start([16, 16]);
  return { net, drv, rx: rx!, tx: tx! };
}

/** The guest sends `frame` (with a zeroed virtio_net_hdr in its own descriptor). */
function guestSend(tx: TestQueue, frame: Uint8Array): void {
  tx.add([{ data: new Uint8Array(NET_HDR_BYTES) }, { data: frame }]);
  tx.kick();
}
/** The guest posts `n` receive buffers of `len` bytes. */
function guestPost(rx: TestQueue, n: number, len = 1526) {
  const chains = Array.from({ length: n }, () => rx.add([{ len, write: true }]));
  rx.kick();
  return chains;
}
/** The frames (header stripped) the device put in the guest's receive buffers. */
function guestReceive(rx: TestQueue, chains: ReturnType<typeof guestPost>): Uint8Array[] {
  return rx.takeUsed().map((u) => {
    const c = chains.find((x) => x.head === u.id)!;
    const bytes = rx.read(c.buffers[0]!.addr, u.len);
    expect(bytes[10]).toBe(1); // num_buffers
    return bytes.subarray(NET_HDR_BYTES);
  });
}

const frame = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill);

describe('VirtioNet', () => {
  it('is device 1 offering MAC, with the MAC in config space', () => {
    t = testEnv();
    const net = VirtioNet.create({ base: 0, mac: GUEST.mac }, t.env);
    const drv = new TestDriver(t.memory, net.mmio);
    expect(drv.reg(Reg.DeviceId)).toBe(DeviceId.Net);
    expect(drv.deviceFeatures() & (NET_F_MAC | F_VERSION_1)).toBe(NET_F_MAC | F_VERSION_1);
    expect([...drv.config(0, 6)]).toEqual([...macBytes(GUEST.mac)]);
    for (const q of [RXQ, TXQ]) {
      drv.setReg(Reg.QueueSel, q);
      expect(drv.reg(Reg.QueueNumMax)).toBe(256);
    }
  });

  it('hands guest frames to the host without the virtio_net_hdr', () => {
    const { net, tx } = setup();
    guestSend(tx, frame(60, 1));
    tx.add([{ data: new Uint8Array([...new Uint8Array(NET_HDR_BYTES), ...frame(42, 2)]) }], { indirect: false });
    tx.kick();
    const out = net.takeTransmitted();
    expect(out.map((f) => [f.length, f[0]])).toEqual([
      [60, 1],
      [42, 2],
    ]);
    expect(tx.takeUsed()).toHaveLength(2);
    expect(net.stats).toMatchObject({ txFrames: 2, txDropped: 0 });
  });

  it('drops guest frames shorter than an Ethernet header but returns their buffers', () => {
    const { net, tx } = setup();
    guestSend(tx, frame(10));
    expect(net.takeTransmitted()).toEqual([]);
    expect(tx.takeUsed()).toHaveLength(1);
    expect(net.stats.txDropped).toBe(1);
  });

  it('needs a reset for a transmit chain without a virtio_net_hdr', () => {
    const { net, tx } = setup();
    tx.add([{ data: new Uint8Array(8) }]);
    tx.kick();
    expect(net.mmio.fault).toBe('request');
  });

  it('holds guest frames while the host ring is full and moves on once drained', () => {
    const { net, tx } = setup({ ringCapacity: 128 });
    guestSend(tx, frame(100, 1));
    guestSend(tx, frame(100, 2));
    expect(tx.takeUsed()).toHaveLength(1);
    expect(net.takeTransmitted().map((f) => f[0])).toEqual([1]);
    expect(tx.takeUsed()).toHaveLength(1);
    expect(net.takeTransmitted().map((f) => f[0])).toEqual([2]);
  });

  it('delivers injected frames into posted receive buffers with a header, and interrupts', () => {
    const { net, rx } = setup();
    const chains = guestPost(rx, 2);
    const before = t.irqs();
    expect(net.inject(frame(64, 7))).toBe(true);
    expect(guestReceive(rx, chains).map((f) => [f.length, f[0]])).toEqual([[64, 7]]);
    expect(t.irqs()).toBe(before + 1);
    expect(net.stats.rxFrames).toBe(1);
  });

  it('keeps injected frames until the guest posts buffers', () => {
    const { net, rx } = setup();
    net.inject(frame(64, 1));
    net.inject(frame(64, 2));
    const chains = guestPost(rx, 4);
    expect(guestReceive(rx, chains).map((f) => f[0])).toEqual([1, 2]);
  });

  it('drops a frame larger than the guest buffer and keeps the buffer for the next one', () => {
    const { net, rx } = setup();
    const chains = guestPost(rx, 1, NET_HDR_BYTES + 100);
    net.inject(frame(200, 1));
    net.inject(frame(100, 2));
    expect(guestReceive(rx, chains).map((f) => [f.length, f[0]])).toEqual([[100, 2]]);
    expect(net.stats.rxDropped).toBe(1);
  });

  it('refuses injected frames once the rx ring is full', () => {
    const { net } = setup({ ringCapacity: 256 });
    expect(net.inject(frame(200))).toBe(true);
    expect(net.inject(frame(200))).toBe(false);
    expect(net.stats.rxDropped).toBe(1);
  });

  it('lets a test answer a guest ARP request and UDP datagram through an in-process peer', async () => {
    const { net, rx, tx } = setup();
    const peer = new InProcessPeer();
    const link = net.connect(peer, 1);
    try {
      peer.respond(arpResponder(HOST.ip, HOST.mac));
      peer.respond((f) => {
        const d = parseUdpFrame(f);
        return d?.dstPort === 7 ? udpReply(d, d.payload) : undefined;
      });
      const chains = guestPost(rx, 4);
      guestSend(tx, buildArp({ op: ARP_REQUEST, senderMac: GUEST.mac, senderIp: GUEST.ip, targetMac: '00:00:00:00:00:00', targetIp: HOST.ip }));
      guestSend(
        tx,
        buildUdpFrame({
          srcMac: GUEST.mac,
          dstMac: HOST.mac,
          srcIp: GUEST.ip,
          dstIp: HOST.ip,
          srcPort: 5555,
          dstPort: 7,
          payload: new TextEncoder().encode('hi'),
        }),
      );
      const sent = await peer.waitFor((f) => parseUdpFrame(f)?.dstPort === 7, 2000);
      expect(new TextDecoder().decode(parseUdpFrame(sent)!.payload)).toBe('hi');
      const got = guestReceive(rx, chains);
      expect(parseArp(got[0]!)).toMatchObject({ senderIp: HOST.ip, senderMac: HOST.mac, targetIp: GUEST.ip });
      expect(parseUdpFrame(got[1]!)).toMatchObject({ srcPort: 7, dstPort: 5555, srcIp: HOST.ip });
      expect(peer.received).toHaveLength(2);
    } finally {
      link.stop();
    }
  });

  it('fails waitFor after its timeout', async () => {
    const peer = new InProcessPeer();
    await expect(peer.waitFor(() => true, 10)).rejects.toThrow(/no matching frame/);
  });
});
