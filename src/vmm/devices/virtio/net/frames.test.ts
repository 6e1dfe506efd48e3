import { describe, expect, it } from 'vitest';
import { ARP_REPLY, ARP_REQUEST, arpResponder, buildArp, buildUdpFrame, icmpEchoReply, inetChecksum, ipBytes, macBytes, parseArp, parseUdpFrame, udpReply, type UdpDatagram } from './frames.ts';

const GUEST = { mac: '52:54:00:12:34:56', ip: '10.0.2.15' };
const HOST = { mac: '52:54:00:00:00:02', ip: '10.0.2.2' };
const dgram: UdpDatagram = {
  srcMac: GUEST.mac,
  dstMac: HOST.mac,
  srcIp: GUEST.ip,
  dstIp: HOST.ip,
  srcPort: 40000,
  dstPort: 7,
  payload: new TextEncoder().encode('ping'),
};

describe('frames', () => {
  it('builds a UDP frame that parses back to the same datagram', () => {
    const f = buildUdpFrame(dgram);
    expect(f.length).toBe(14 + 20 + 8 + 4);
    expect(parseUdpFrame(f)).toEqual(dgram);
  });

  it('gets the IPv4 header and UDP checksums right', () => {
    const f = buildUdpFrame(dgram);
    const ip = f.subarray(14);
    expect(inetChecksum(ip.subarray(0, 20))).toBe(0);
    const pseudo = new Uint8Array([...ip.subarray(12, 20), 0, 17, 0, 12]);
    expect(inetChecksum(ip.subarray(20), 0xffff & ~inetChecksum(pseudo))).toBe(0);
  });

  it('answers a datagram with addresses and ports swapped', () => {
    const reply = parseUdpFrame(udpReply(dgram, new TextEncoder().encode('pong')))!;
    expect(reply).toMatchObject({ srcIp: HOST.ip, dstIp: GUEST.ip, srcPort: 7, dstPort: 40000, srcMac: HOST.mac, dstMac: GUEST.mac });
    expect(new TextDecoder().decode(reply.payload)).toBe('pong');
  });

  it('parses nothing but unfragmented IPv4 UDP', () => {
    const f = buildUdpFrame(dgram);
    const tcp = f.slice();
    tcp[14 + 9] = 6;
    const frag = f.slice();
    frag[14 + 6] = 0x20; // more fragments
    const short = f.subarray(0, 30);
    for (const bad of [tcp, frag, short, buildArp({ op: 1, senderMac: GUEST.mac, senderIp: GUEST.ip, targetMac: '00:00:00:00:00:00', targetIp: HOST.ip })]) {
      expect(parseUdpFrame(bad)).toBeUndefined();
    }
  });

  it('answers an ARP request for its address, broadcast request to unicast reply', () => {
    const req = buildArp({ op: ARP_REQUEST, senderMac: GUEST.mac, senderIp: GUEST.ip, targetMac: '00:00:00:00:00:00', targetIp: HOST.ip });
    expect([...req.subarray(0, 6)]).toEqual([255, 255, 255, 255, 255, 255]);
    const answer = arpResponder(HOST.ip, HOST.mac);
    const reply = answer(req)!;
    expect([...reply.subarray(0, 6)]).toEqual([...macBytes(GUEST.mac)]);
    expect(parseArp(reply)).toEqual({ op: ARP_REPLY, senderMac: HOST.mac, senderIp: HOST.ip, targetMac: GUEST.mac, targetIp: GUEST.ip });
    expect(answer(buildArp({ op: ARP_REQUEST, senderMac: GUEST.mac, senderIp: GUEST.ip, targetMac: '00:00:00:00:00:00', targetIp: '10.0.2.3' }))).toBeUndefined();
  });

  it('rejects malformed addresses', () => {
    expect(() => macBytes('52:54:00:12:34')).toThrow(/MAC/);
    expect(() => ipBytes('10.0.2.256')).toThrow(/IPv4/);
  });

  describe('ICMP echo', () => {
    /** An echo request as busybox ping sends it: id 0x1234, seq 1, 8 bytes of data. */
    function echoRequest(dstIp: string): Uint8Array {
      const ip = new Uint8Array(20 + 16);
      const v = new DataView(ip.buffer);
      v.setUint8(0, 0x45);
      v.setUint16(2, ip.length);
      v.setUint8(8, 64);
      v.setUint8(9, 1);
      ip.set(ipBytes(GUEST.ip), 12);
      ip.set(ipBytes(dstIp), 16);
      v.setUint16(10, inetChecksum(ip.subarray(0, 20)));
      ip.set([8, 0, 0, 0, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8], 20);
      v.setUint16(22, inetChecksum(ip.subarray(20)));
      return Uint8Array.from([...macBytes(HOST.mac), ...macBytes(GUEST.mac), 0x08, 0x00, ...ip]);
    }

    it('answers a ping for its address: echo reply, addresses swapped, checksums valid, id/seq/data kept', () => {
      const reply = icmpEchoReply(echoRequest(HOST.ip), HOST.ip)!;
      expect(reply).toBeDefined();
      expect([...reply.subarray(0, 6)]).toEqual([...macBytes(GUEST.mac)]);
      expect([...reply.subarray(6, 12)]).toEqual([...macBytes(HOST.mac)]);
      const ip = reply.subarray(14);
      expect([...ip.subarray(12, 16)]).toEqual([...ipBytes(HOST.ip)]);
      expect([...ip.subarray(16, 20)]).toEqual([...ipBytes(GUEST.ip)]);
      expect(inetChecksum(ip.subarray(0, 20))).toBe(0);
      expect(ip[20]).toBe(0); // echo reply
      expect(inetChecksum(ip.subarray(20))).toBe(0);
      expect([...ip.subarray(24)]).toEqual([0x12, 0x34, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('ignores pings for other addresses and frames that are not pings', () => {
      expect(icmpEchoReply(echoRequest('10.0.2.3'), HOST.ip)).toBeUndefined();
      expect(icmpEchoReply(buildUdpFrame(dgram), HOST.ip)).toBeUndefined();
      expect(icmpEchoReply(echoRequest(HOST.ip).subarray(0, 30), HOST.ip)).toBeUndefined();
    });
  });
});
