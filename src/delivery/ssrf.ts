/**
 * SSRF address policy for webhook deliveries.
 *
 * Only globally routable unicast addresses are allowed by default. Everything else (loopback,
 * private, carrier-grade NAT, link-local, unique-local, multicast, broadcast, unspecified,
 * documentation/benchmarking/reserved ranges, cloud metadata endpoints, Teredo) is refused.
 * IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are judged by
 * the embedded IPv4 address. An allow-list of CIDRs opts addresses back in; `allowPrivate` turns the
 * guard off (development only: a local receiver).
 *
 * The guard is applied by the delivery connector to every resolved address at connect time, so the
 * strings it sees are canonical (WHATWG-normalized URL hosts or DNS results). It still accepts the
 * legacy IPv4 notations (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) and interprets them the way
 * inet_aton / the WHATWG URL parser do, so that a caller passing one of them is never waved through.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AddressPolicy {
  allowPrivate: boolean;
  allowCidrs: readonly string[];
}

export interface AddressVerdict {
  allowed: boolean;
  address: string;
  /** ipaddr.js range name or our own label, e.g. 'loopback', 'private', 'metadata', 'unicast' */
  range: string;
  reason: string | undefined;
}

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Cidr<T> = readonly [T, number];

/** Cloud instance-metadata endpoints, labelled 'metadata' even though other ranges cover them. */
const METADATA_V4 = new Set([
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, ...
  '169.254.170.2', // AWS ECS task metadata / credentials
  '169.254.170.23', // AWS EKS Pod Identity agent
  '100.100.100.200', // Alibaba Cloud
]);
const METADATA_V6 = new Set([
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23', // AWS EKS Pod Identity agent over IPv6
]);

/** IANA global unicast space for IPv6; anything outside it (and not handled otherwise) is reserved. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const NAT64_LOCAL_USE = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48');
/** `::a.b.c.d` (deprecated IPv4-compatible text form); ipaddr.js would read it as IPv4-mapped. */
const V4_COMPAT_TEXT = /^::(\d{1,3}(?:\.\d{1,3}){3})(%.*)?$/;

const DESCRIPTIONS: Record<string, string> = {
  unspecified: 'unspecified',
  loopback: 'loopback',
  private: 'private',
  carrierGradeNat: 'carrier-grade NAT (shared address space)',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  multicast: 'multicast',
  broadcast: 'broadcast',
  reserved: 'reserved',
  benchmarking: 'reserved for benchmarking',
  metadata: 'a cloud metadata endpoint',
  teredo: 'a Teredo tunnel address',
  rfc6052: 'a NAT64 address without a determinable IPv4 address',
  rfc6145: 'an IPv4-translated address',
};

function describe(range: string): string {
  return DESCRIPTIONS[range] ?? `in the special-purpose range '${range}'`;
}

function stripBrackets(address: string): string {
  return address.length >= 2 && address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/** Parses an IP address string (strict IPv6, strict or legacy IPv4); undefined when it is not one. */
function parseAddress(text: string): IPv4 | IPv6 | undefined {
  const family = net.isIP(text);
  if (family === 6) {
    const compat = V4_COMPAT_TEXT.exec(text);
    if (compat) {
      const [a = 0, b = 0, c = 0, d = 0] = ipaddr.IPv4.parse(compat[1] ?? '').octets;
      const ip = new ipaddr.IPv6([0, 0, 0, 0, 0, 0, (a << 8) | b, (c << 8) | d]);
      if (compat[2]) ip.zoneId = compat[2].slice(1);
      return ip;
    }
    return ipaddr.IPv6.parse(text);
  }
  if (family === 4) return ipaddr.IPv4.parse(text);
  // Legacy IPv4 notations (decimal, octal, hex, short forms), as inet_aton reads them.
  if (/^[0-9a-fx.]+$/i.test(text) && ipaddr.IPv4.isValid(text)) {
    try {
      return ipaddr.IPv4.parse(text);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function v4FromWords(hi: number, lo: number): IPv4 {
  return new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
}

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one: IPv4-mapped (::ffff:0:0/96),
 * IPv4-compatible (::/96), NAT64 (64:ff9b::/96; 64:ff9b:1::/48 in its /96 layout) and 6to4 (2002::/16).
 * Returns null for a NAT64 local-use address whose embedding cannot be determined.
 */
function embeddedV4(ip: IPv6, range: string): IPv4 | null | undefined {
  const p = ip.parts;
  const w = (i: number): number => p[i] ?? 0;
  if (range === 'ipv4Mapped') return ip.toIPv4Address();
  if (range === '6to4') return v4FromWords(w(1), w(2));
  if (w(0) === 0 && w(1) === 0 && w(2) === 0 && w(3) === 0 && w(4) === 0 && w(5) === 0) {
    return v4FromWords(w(6), w(7)); // IPv4-compatible
  }
  if (ip.match(NAT64_WELL_KNOWN)) return v4FromWords(w(6), w(7));
  if (ip.match(NAT64_LOCAL_USE)) {
    // RFC 8215 local-use prefix: only the /96 layout (64:ff9b:1::a.b.c.d) is unambiguous.
    return w(3) === 0 && w(4) === 0 && w(5) === 0 ? v4FromWords(w(6), w(7)) : null;
  }
  return undefined;
}

function classifyV4(ip: IPv4): string {
  if (METADATA_V4.has(ip.toString())) return 'metadata';
  return ip.range();
}

function classifyV6(ip: IPv6): { range: string; embedded: IPv4 | undefined } {
  const plain = new ipaddr.IPv6(ip.parts).toString(); // without zone id
  if (METADATA_V6.has(plain)) return { range: 'metadata', embedded: undefined };
  const range = ip.range();
  if (range === 'unspecified' || range === 'loopback') return { range, embedded: undefined };
  const embedded = embeddedV4(ip, range);
  if (embedded === null) return { range: 'rfc6052', embedded: undefined };
  if (embedded !== undefined) return { range: classifyV4(embedded), embedded };
  if (range !== 'unicast') return { range, embedded: undefined };
  if (!ip.match(GLOBAL_UNICAST_V6)) return { range: 'reserved', embedded: undefined };
  return { range: 'unicast', embedded: undefined };
}

function parseCidrs(cidrs: readonly string[]): { v4: Cidr<IPv4>[]; v6: Cidr<IPv6>[] } {
  const v4: Cidr<IPv4>[] = [];
  const v6: Cidr<IPv6>[] = [];
  for (const cidr of cidrs) {
    let parsed: [IPv4 | IPv6, number];
    try {
      parsed = ipaddr.parseCIDR(cidr.trim());
    } catch {
      throw new Error(`invalid CIDR in SSRF allow-list: ${JSON.stringify(cidr)}`);
    }
    const [net_, bits] = parsed;
    if (net_.kind() === 'ipv4') {
      v4.push([net_ as IPv4, bits]);
    } else if ((net_ as IPv6).isIPv4MappedAddress() && bits >= 96) {
      // ::ffff:a.b.c.d/n is the same set as a.b.c.d/(n-96); store it once, as IPv4.
      v4.push([(net_ as IPv6).toIPv4Address(), bits - 96]);
    } else {
      v6.push([net_ as IPv6, bits]);
    }
  }
  return { v4, v6 };
}

/** Builds the check once (parse CIDRs once); returns a function used per connection. */
export function createAddressGuard(policy: AddressPolicy): (address: string) => AddressVerdict {
  const allowPrivate = policy.allowPrivate === true;
  const { v4: allowV4, v6: allowV6 } = parseCidrs(policy.allowCidrs);
  const inV4 = (ip: IPv4): boolean => allowV4.some((c) => ip.match(c[0], c[1]));
  const inV6 = (ip: IPv6): boolean => allowV6.some((c) => ip.match(c[0], c[1]));

  return function guard(input: string): AddressVerdict {
    const address = stripBrackets(String(input));
    const ip = parseAddress(address);
    if (ip === undefined) {
      return {
        allowed: false,
        address,
        range: 'invalid',
        reason: `callback address ${JSON.stringify(address)} is not an IP address`,
      };
    }
    let range: string;
    let embedded: IPv4 | undefined;
    if (ip.kind() === 'ipv4') {
      range = classifyV4(ip as IPv4);
    } else {
      ({ range, embedded } = classifyV6(ip as IPv6));
    }
    const allowed =
      allowPrivate ||
      range === 'unicast' ||
      (ip.kind() === 'ipv4' ? inV4(ip as IPv4) : inV6(ip as IPv6) || (embedded !== undefined && inV4(embedded)));
    const via = embedded !== undefined ? ` (embedded IPv4 ${embedded.toString()})` : '';
    return {
      allowed,
      address,
      range,
      reason: allowed ? undefined : `callback address ${address}${via} is ${describe(range)}`,
    };
  };
}
