// Just enough Ethernet, ARP, IPv4 and UDP for a test to talk to a guest: build and parse.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IPPROTO_UDP = 17;
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
const ETH = 14;

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) throw new RangeError(`bad MAC address '${mac}'`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
export function macString(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}
export function ipBytes(ip: string): Uint8Array {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw new RangeError(`bad IPv4 address '${ip}'`);
  return Uint8Array.from(parts, Number);
}
export function ipString(b: Uint8Array): string {
  return Array.from(b.subarray(0, 4)).join('.');
}

/** The Internet checksum (RFC 1071) of `bytes`, folded into `seed`. */
export function inetChecksum(bytes: Uint8Array, seed = 0): number {
  let sum = seed;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length & 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ethernet(dst: string, src: string, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH + payload.length);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(payload, ETH);
  return f;
}

function etherType(frame: Uint8Array): number | undefined {
  return frame.length >= ETH ? (frame[12]! << 8) | frame[13]! : undefined;
}

export interface UdpDatagram {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export function buildUdpFrame(d: UdpDatagram): Uint8Array {
  const udpLen = 8 + d.payload.length;
  const ip = new Uint8Array(20 + udpLen);
  const v = new DataView(ip.buffer);
  v.setUint8(0, 0x45);
  v.setUint16(2, ip.length);
  v.setUint16(6, 0x4000); // don't fragment
  v.setUint8(8, 64);
  v.setUint8(9, IPPROTO_UDP);
  ip.set(ipBytes(d.srcIp), 12);
  ip.set(ipBytes(d.dstIp), 16);
  v.setUint16(10, inetChecksum(ip.subarray(0, 20)));
  v.setUint16(20, d.srcPort);
  v.setUint16(22, d.dstPort);
  v.setUint16(24, udpLen);
  ip.set(d.payload, 28);
  const pseudo = new Uint8Array(12);
  pseudo.set(ip.subarray(12, 20));
  pseudo[9] = IPPROTO_UDP;
  new DataView(pseudo.buffer).setUint16(10, udpLen);
  const sum = inetChecksum(ip.subarray(20), 0xffff & ~inetChecksum(pseudo));
  v.setUint16(26, sum === 0 ? 0xffff : sum);
  return ethernet(d.dstMac, d.srcMac, ETHERTYPE_IPV4, ip);
}

/** An unfragmented IPv4 UDP datagram, or undefined for anything else. */
export function parseUdpFrame(frame: Uint8Array): UdpDatagram | undefined {
  if (etherType(frame) !== ETHERTYPE_IPV4) return undefined;
  const ip = frame.subarray(ETH);
  if (ip.length < 20 || ip[0]! >> 4 !== 4) return undefined;
  const v = new DataView(ip.buffer, ip.byteOffset, ip.length);
  const ihl = (ip[0]! & 0xf) * 4;
  const total = v.getUint16(2);
  if (ihl < 20 || total < ihl + 8 || total > ip.length || ip[9] !== IPPROTO_UDP) return undefined;
  if (v.getUint16(6) & 0x3fff) return undefined; // a fragment
  const udpLen = v.getUint16(ihl + 4);
  if (udpLen < 8 || ihl + udpLen > total) return undefined;
  return {
    dstMac: macString(frame.subarray(0, 6)),
    srcMac: macString(frame.subarray(6, 12)),
    srcIp: ipString(ip.subarray(12, 16)),
    dstIp: ipString(ip.subarray(16, 20)),
    srcPort: v.getUint16(ihl),
    dstPort: v.getUint16(ihl + 2),
    payload: ip.slice(ihl + 8, ihl + udpLen),
  };
}

/** The frame answering `to` with `payload` (addresses and ports swapped). */
export function udpReply(to: UdpDatagram, payload: Uint8Array): Uint8Array {
  return buildUdpFrame({
    srcMac: to.dstMac,
    dstMac: to.srcMac,
    srcIp: to.dstIp,
    dstIp: to.srcIp,
    srcPort: to.dstPort,
    dstPort: to.srcPort,
    payload,
  });
}

export interface ArpPacket {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** Ethernet/IPv4 ARP, or undefined. */
export function parseArp(frame: Uint8Array): ArpPacket | undefined {
  if (etherType(frame) !== ETHERTYPE_ARP || frame.length < ETH + 28) return undefined;
  const a = frame.subarray(ETH);
  const v = new DataView(a.buffer, a.byteOffset, 28);
  if (v.getUint16(0) !== 1 || v.getUint16(2) !== ETHERTYPE_IPV4 || a[4] !== 6 || a[5] !== 4) return undefined;
  return {
    op: v.getUint16(6),
    senderMac: macString(a.subarray(8, 14)),
    senderIp: ipString(a.subarray(14, 18)),
    targetMac: macString(a.subarray(18, 24)),
    targetIp: ipString(a.subarray(24, 28)),
  };
}

export function buildArp(p: ArpPacket): Uint8Array {
  const a = new Uint8Array(28);
  const v = new DataView(a.buffer);
  v.setUint16(0, 1); // Ethernet
  v.setUint16(2, ETHERTYPE_IPV4);
  a[4] = 6;
  a[5] = 4;
  v.setUint16(6, p.op);
  a.set(macBytes(p.senderMac), 8);
  a.set(ipBytes(p.senderIp), 14);
  a.set(macBytes(p.targetMac), 18);
  a.set(ipBytes(p.targetIp), 24);
  return ethernet(p.op === ARP_REQUEST ? BROADCAST_MAC : p.targetMac, p.senderMac, ETHERTYPE_ARP, a);
}

/** "request.targetIp is at `mac`", addressed to whoever asked. */
export function arpReply(request: ArpPacket, mac: string): Uint8Array {
  return buildArp({ op: ARP_REPLY, senderMac: mac, senderIp: request.targetIp, targetMac: request.senderMac, targetIp: request.senderIp });
}

/** A responder answering ARP requests for `ip` with `mac` (see InProcessPeer.respond). */
export function arpResponder(ip: string, mac: string): (frame: Uint8Array) => Uint8Array | undefined {
  return (frame) => {
    const arp = parseArp(frame);
    return arp?.op === ARP_REQUEST && arp.targetIp === ip ? arpReply(arp, mac) : undefined;
  };
}

export const IPPROTO_ICMP = 1;
const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_REQUEST = 8;

/** The reply to an ICMP echo request ("ping") for `ip`, or undefined for any other frame. */
export function icmpEchoReply(frame: Uint8Array, ip: string): Uint8Array | undefined {
  if (etherType(frame) !== ETHERTYPE_IPV4) return undefined;
  const req = frame.subarray(ETH);
  if (req.length < 20 || req[0]! >> 4 !== 4 || req[9] !== IPPROTO_ICMP) return undefined;
  const ihl = (req[0]! & 0xf) * 4;
  const total = new DataView(req.buffer, req.byteOffset, req.length).getUint16(2);
  if (ihl < 20 || total < ihl + 8 || total > req.length || req[ihl] !== ICMP_ECHO_REQUEST) return undefined;
  if (ipString(req.subarray(16, 20)) !== ip) return undefined;
  const out = req.slice(0, total);
  const v = new DataView(out.buffer);
  out.set(req.subarray(16, 20), 12); // swap the addresses
  out.set(req.subarray(12, 16), 16);
  out[8] = 64; // TTL
  v.setUint16(10, 0);
  v.setUint16(10, inetChecksum(out.subarray(0, ihl)));
  out[ihl] = ICMP_ECHO_REPLY;
  v.setUint16(ihl + 2, 0);
  v.setUint16(ihl + 2, inetChecksum(out.subarray(ihl)));
  return ethernet(macString(frame.subarray(6, 12)), macString(frame.subarray(0, 6)), ETHERTYPE_IPV4, out);
}
