// IP addresses and CIDR ranges, compiled once (config and credentials load) into numbers so that a
// request only does integer compares. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is treated as IPv4
// everywhere, which is why ranges are split by family after that normalisation.
import ipaddr from 'ipaddr.js';

export type Ip = { readonly family: 4; readonly v4: number; readonly text: string } | {
  readonly family: 6;
  readonly v6: bigint;
  readonly text: string;
};

interface Range4 { readonly base: number; readonly mask: number }
interface Range6 { readonly base: bigint; readonly mask: bigint }
export interface Cidr { readonly family: 4 | 6; readonly base: number | bigint; readonly prefix: number }

// Strict dotted decimal: no octal (`010`), hex, short (`1.2.3`) or integer forms that inet_aton accepts.
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
export const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const ALL6 = (1n << 128n) - 1n;

function v4ToNumber(text: string): number {
  let n = 0;
  for (const part of text.split('.')) n = n * 256 + Number(part);
  return n;
}

function v6ToBigint(addr: ipaddr.IPv6): bigint {
  let n = 0n;
  for (const part of addr.parts) n = (n << 16n) | BigInt(part);
  return n;
}

/** A literal IPv4 or IPv6 address (no port, no brackets), IPv4-mapped IPv6 folded to IPv4. */
export function parseIp(text: string, allowZone = false): Ip | undefined {
  if (IPV4.test(text)) return { family: 4, v4: v4ToNumber(text), text };
  if (!text.includes(':')) return undefined;
  let literal = text;
  const zone = text.indexOf('%');
  if (zone !== -1) {
    if (!allowZone) return undefined;
    literal = text.slice(0, zone);
  }
  // An embedded IPv4 tail must be strict dotted decimal too.
  if (literal.includes('.') && !IPV4.test(literal.slice(literal.lastIndexOf(':') + 1))) return undefined;
  if (!ipaddr.IPv6.isValid(literal)) return undefined;
  const addr = ipaddr.IPv6.parse(literal);
  if (addr.isIPv4MappedAddress()) {
    const v4 = addr.toIPv4Address().toString();
    return { family: 4, v4: v4ToNumber(v4), text: v4 };
  }
  return { family: 6, v6: v6ToBigint(addr), text: addr.toString() };
}

/** The TCP peer as Node reports it; fast path for the common plain-IPv4 and mapped forms. */
export function parsePeer(remoteAddress: string | undefined): Ip | undefined {
  if (remoteAddress === undefined) return undefined;
  if (remoteAddress.startsWith('::ffff:') && IPV4.test(remoteAddress.slice(7))) {
    const text = remoteAddress.slice(7);
    return { family: 4, v4: v4ToNumber(text), text };
  }
  return parseIp(remoteAddress, true);
}

/** `addr` or `addr/prefix`; host bits below the prefix are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return undefined;
  const mappedV6 = ip.family === 4 && addrText.includes(':');
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    prefix = Number(p);
    // `::ffff:a.b.c.d/N` covers IPv4 space only when N >= 96; it then means the IPv4 /N-96.
    if (mappedV6) {
      if (prefix < 96 || prefix > 128) return undefined;
      prefix -= 96;
    }
    if (prefix > max) return undefined;
  }
  if (ip.family === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return { family: 4, base: (ip.v4 & mask) >>> 0, prefix };
  }
  const mask = prefix === 0 ? 0n : (ALL6 << BigInt(128 - prefix)) & ALL6;
  return { family: 6, base: ip.v6 & mask, prefix };
}

export class IpMatcher {
  private readonly v4: Range4[] = [];
  private readonly v6: Range6[] = [];

  /** Entries must already be valid (schemas check them with parseCidr). */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const c = parseCidr(entry);
      if (!c) throw new Error(`invalid CIDR ${JSON.stringify(entry)}`);
      if (c.family === 4) {
        const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
        this.v4.push({ base: c.base as number, mask });
      } else {
        const mask = c.prefix === 0 ? 0n : (ALL6 << BigInt(128 - c.prefix)) & ALL6;
        this.v6.push({ base: c.base as bigint, mask });
      }
    }
  }

  get empty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  contains(ip: Ip): boolean {
    if (ip.family === 4) {
      for (const r of this.v4) if (((ip.v4 & r.mask) >>> 0) === r.base) return true;
      return false;
    }
    for (const r of this.v6) if ((ip.v6 & r.mask) === r.base) return true;
    return false;
  }
}
