// The peer a scenario's `net: { backend: peer }` gets: a host on the guest's link, in this
// process, that answers ARP and ping. Tests read what the guest sent from `received`.
import { InProcessPeer } from './backend.ts';
import { arpResponder, icmpEchoReply } from './frames.ts';

export const PEER_IP = '10.0.2.2';
export const PEER_MAC = '52:54:00:00:00:02';

export function gatewayPeer(ip = PEER_IP, mac = PEER_MAC): InProcessPeer {
  const peer = new InProcessPeer();
  peer.respond(arpResponder(ip, mac));
  peer.respond((frame) => icmpEchoReply(frame, ip));
  return peer;
}
