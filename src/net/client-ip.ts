// The client IP (SPEC §6): the TCP peer, unless the peer is a trusted proxy; then X-Forwarded-For
// (all lines, joined in order by Node) is walked right to left, skipping trusted hops. Entries that
// do not parse make the client unknown rather than guessed. No other header is believed.
import { parseIp, parsePeer, type Ip, type IpMatcher } from './ip-match.js';

export interface ClientAddress {
  /** null = unknown */
  readonly ip: Ip | null;
  /** the TCP peer is one of trustedProxies */
  readonly peerTrusted: boolean;
}

const UNKNOWN: ClientAddress = Object.freeze({ ip: null, peerTrusted: false });

export function resolveClientIp(
  remoteAddress: string | undefined,
  forwardedFor: string | undefined,
  trusted: IpMatcher,
): ClientAddress {
  const peer = parsePeer(remoteAddress);
  if (!peer) return UNKNOWN;
  if (trusted.empty || !trusted.contains(peer)) return { ip: peer, peerTrusted: false };
  if (forwardedFor === undefined) return { ip: peer, peerTrusted: true };
  const entries = forwardedFor.split(',');
  let leftmost: Ip = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const ip = parseIp((entries[i] as string).trim());
    if (!ip) return { ip: null, peerTrusted: true };
    if (!trusted.contains(ip)) return { ip, peerTrusted: true };
    leftmost = ip;
  }
  return { ip: leftmost, peerTrusted: true };
}
