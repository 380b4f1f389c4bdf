import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { Agent, request } from 'undici';
import { createAddressGuard } from '../src/delivery/ssrf.ts';
import type { AddressPolicy, AddressVerdict } from '../src/delivery/ssrf.ts';
import { BlockedAddressError, createGuardedConnector } from '../src/delivery/connector.ts';
import type { LookupFn } from '../src/delivery/connector.ts';

const DEFAULT: AddressPolicy = { allowPrivate: false, allowCidrs: [] };
const defaultGuard = createAddressGuard(DEFAULT);
const openGuard = createAddressGuard({ allowPrivate: true, allowCidrs: [] });

/** What the guard actually sees: URL inputs go through WHATWG URL normalization (as in undici). */
function hostOf(input: string): string {
  return input.includes('://') ? new URL(input).hostname : input;
}
function bare(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
/** Host route for an address (/32 or /128). */
function hostRoute(host: string): string {
  const ip = ipaddr.parse(bare(host));
  return `${ip.toString()}/${ip.kind() === 'ipv4' ? 32 : 128}`;
}
/** The other half of the parent network: same prefix length, last prefix bit flipped. */
function sibling(cidr: string): string {
  const [ip, bits] = ipaddr.parseCIDR(cidr);
  const bytes = ip.toByteArray();
  const i = bits - 1;
  bytes[i >> 3] = (bytes[i >> 3] ?? 0) ^ (0x80 >> (i & 7));
  return `${ipaddr.fromByteArray(bytes).toString()}/${bits}`;
}

interface Vector {
  /** URL (normalized through `new URL(u).hostname`) or bare address */
  input: string;
  /** expected normalized host, for URL inputs where the normalization is the point */
  host?: string;
  range: string;
  /** extra CIDRs that cover the address (besides its own host route) */
  cover?: string[];
}

/** Every form here must be refused by default. */
const REFUSED: Vector[] = [
  // IPv4 special ranges
  { input: '0.0.0.0', range: 'unspecified', cover: ['0.0.0.0/8'] },
  { input: '0.1.2.3', range: 'unspecified' },
  { input: '127.0.0.1', range: 'loopback', cover: ['127.0.0.0/8'] },
  { input: '127.255.255.254', range: 'loopback' },
  { input: '10.0.0.1', range: 'private', cover: ['10.0.0.0/8', '::ffff:10.0.0.0/104'] },
  { input: '10.255.255.255', range: 'private' },
  { input: '172.16.0.1', range: 'private', cover: ['172.16.0.0/12'] },
  { input: '172.31.255.255', range: 'private' },
  { input: '192.168.1.1', range: 'private', cover: ['192.168.0.0/16'] },
  { input: '100.64.0.1', range: 'carrierGradeNat', cover: ['100.64.0.0/10'] },
  { input: '100.127.255.254', range: 'carrierGradeNat' },
  { input: '169.254.1.1', range: 'linkLocal', cover: ['169.254.0.0/16'] },
  { input: '169.254.169.254', range: 'metadata', cover: ['169.254.0.0/16'] },
  { input: '169.254.170.2', range: 'metadata' },
  { input: '100.100.100.200', range: 'metadata', cover: ['100.64.0.0/10'] },
  { input: '224.0.0.1', range: 'multicast', cover: ['224.0.0.0/4'] },
  { input: '239.255.255.250', range: 'multicast' },
  { input: '255.255.255.255', range: 'broadcast' },
  { input: '192.0.0.8', range: 'reserved', cover: ['192.0.0.0/24'] },
  { input: '192.0.2.1', range: 'reserved' },
  { input: '198.18.0.1', range: 'reserved', cover: ['198.18.0.0/15'] },
  { input: '198.19.255.1', range: 'reserved' },
  { input: '198.51.100.7', range: 'reserved' },
  { input: '203.0.113.9', range: 'reserved' },
  { input: '240.0.0.1', range: 'reserved', cover: ['240.0.0.0/4'] },
  { input: '192.88.99.1', range: 'reserved' },
  { input: '192.175.48.1', range: 'as112' },
  { input: '192.52.193.1', range: 'amt' },
  // IPv4 notations, normalized by the WHATWG URL parser before the check
  { input: 'http://2130706433/', host: '127.0.0.1', range: 'loopback', cover: ['127.0.0.0/8'] },
  { input: 'http://0177.0.0.1/', host: '127.0.0.1', range: 'loopback' },
  { input: 'http://0x7f.1/', host: '127.0.0.1', range: 'loopback' },
  { input: 'http://127.1/', host: '127.0.0.1', range: 'loopback' },
  { input: 'http://0x7f000001/', host: '127.0.0.1', range: 'loopback' },
  { input: 'http://017700000001/', host: '127.0.0.1', range: 'loopback' },
  { input: 'http://0xa9fea9fe/', host: '169.254.169.254', range: 'metadata' },
  { input: 'http://10.1/', host: '10.0.0.1', range: 'private' },
  { input: 'http://3232235777/', host: '192.168.1.1', range: 'private' },
  { input: 'http://0300.0250.1.1/', host: '192.168.1.1', range: 'private' },
  { input: 'http://0/', host: '0.0.0.0', range: 'unspecified' },
  // bare legacy notations handed straight to the guard are read the same way
  { input: '2130706433', range: 'loopback' },
  { input: '0x7f.1', range: 'loopback' },
  // IPv6
  { input: 'http://[::1]/', range: 'loopback', cover: ['::1/128'] },
  { input: 'http://[0:0:0:0:0:0:0:1]/', host: '[::1]', range: 'loopback' },
  { input: 'http://[::]/', range: 'unspecified' },
  { input: 'http://[::ffff:127.0.0.1]/', host: '[::ffff:7f00:1]', range: 'loopback', cover: ['127.0.0.0/8', '::ffff:0:0/96'] },
  { input: 'http://[::ffff:7f00:1]/', range: 'loopback', cover: ['127.0.0.1/32'] },
  { input: 'http://[::127.0.0.1]/', host: '[::7f00:1]', range: 'loopback', cover: ['127.0.0.0/8', '::/96'] },
  { input: '::127.0.0.1', range: 'loopback' },
  { input: 'http://[::ffff:10.0.0.1]/', host: '[::ffff:a00:1]', range: 'private', cover: ['10.0.0.0/8'] },
  { input: 'http://[::ffff:169.254.169.254]/', host: '[::ffff:a9fe:a9fe]', range: 'metadata' },
  { input: 'http://[64:ff9b::a00:1]/', range: 'private', cover: ['10.0.0.0/8', '64:ff9b::/96'] },
  { input: 'http://[64:ff9b::169.254.169.254]/', host: '[64:ff9b::a9fe:a9fe]', range: 'metadata', cover: ['169.254.169.254/32'] },
  { input: 'http://[64:ff9b::7f00:1]/', range: 'loopback' },
  { input: 'http://[64:ff9b:1::a00:1]/', range: 'private', cover: ['10.0.0.0/8'] },
  { input: 'http://[64:ff9b:1:ab::808:808]/', range: 'rfc6052', cover: ['64:ff9b:1::/48'] },
  { input: 'http://[2002:a00:1::]/', range: 'private', cover: ['10.0.0.0/8', '2002::/16'] },
  { input: 'http://[2002:7f00:1::1]/', range: 'loopback', cover: ['127.0.0.0/8'] },
  { input: 'http://[2002:a9fe:a9fe::]/', range: 'metadata' },
  { input: 'http://[2001::1]/', range: 'teredo', cover: ['2001::/32'] },
  { input: 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', host: '[2001:0:4136:e378:8000:63bf:3fff:fdd2]', range: 'teredo' },
  { input: 'http://[fe80::1]/', range: 'linkLocal', cover: ['fe80::/10'] },
  { input: 'fe80::1%eth0', range: 'linkLocal' },
  { input: 'http://[febf::1]/', range: 'linkLocal' },
  { input: 'http://[fc00::1]/', range: 'uniqueLocal', cover: ['fc00::/7'] },
  { input: 'http://[fd12:3456::1]/', range: 'uniqueLocal' },
  { input: 'http://[fd00:ec2::254]/', range: 'metadata', cover: ['fd00::/8'] },
  { input: 'http://[ff02::1]/', range: 'multicast', cover: ['ff00::/8'] },
  { input: 'http://[ff05::1:3]/', range: 'multicast' },
  { input: 'http://[2001:db8::1]/', range: 'reserved', cover: ['2001:db8::/32'] },
  { input: 'http://[2001:2::1]/', range: 'benchmarking' },
  { input: 'http://[100::1]/', range: 'discard' },
  { input: 'http://[fec0::1]/', range: 'deprecatedSiteLocal' },
  { input: 'http://[::ffff:0:7f00:1]/', range: 'rfc6145' },
  { input: 'http://[3fff::1]/', range: 'reserved' },
  { input: 'http://[5f00::1]/', range: 'segmentRouting' },
  { input: 'http://[4000::1]/', range: 'reserved', cover: ['4000::/2'] },
];

const PUBLIC: Array<{ input: string; host?: string }> = [
  { input: '8.8.8.8' },
  { input: '1.1.1.1' },
  { input: 'http://134744072/', host: '8.8.8.8' },
  { input: '2606:4700:4700::1111' },
  { input: 'http://[2606:4700:4700::1111]/' },
  { input: 'http://[64:ff9b::808:808]/' },
  { input: 'http://[64:ff9b:1::808:808]/' },
  { input: 'http://[2002:808:808::]/' },
  { input: '::ffff:8.8.8.8' },
  { input: 'http://[::ffff:8.8.8.8]/', host: '[::ffff:808:808]' },
];

/** Unrelated networks that cover none of the vectors. */
const UNRELATED = ['8.8.8.0/24', '2606:4700::/32'];

describe('address guard: vector table', () => {
  test('table has at least 40 distinct refused forms', () => {
    assert.ok(REFUSED.length >= 40, `only ${REFUSED.length} vectors`);
    assert.equal(new Set(REFUSED.map((v) => v.input)).size, REFUSED.length, 'duplicate vectors');
  });

  for (const v of REFUSED) {
    test(`${v.input} → refused (${v.range})`, () => {
      const host = hostOf(v.input);
      if (v.host !== undefined) assert.equal(host, v.host, 'WHATWG normalization');
      const checked = host;

      const verdict = defaultGuard(checked);
      assert.equal(verdict.allowed, false, `${checked} should be refused by default`);
      assert.equal(verdict.range, v.range);
      assert.equal(verdict.address, bare(checked));
      assert.ok(verdict.reason?.startsWith(`callback address ${bare(checked)}`), verdict.reason);

      const open = openGuard(checked);
      assert.equal(open.allowed, true, 'allowPrivate allows everything');
      assert.equal(open.reason, undefined);

      const covers = [hostRoute(host), ...(v.cover ?? [])];
      for (const cidr of covers) {
        const allowed = createAddressGuard({ allowPrivate: false, allowCidrs: [cidr] })(checked);
        assert.equal(allowed.allowed, true, `${cidr} should allow ${checked}`);
        assert.equal(allowed.range, v.range, 'range label is kept when allowed via the allow-list');
        const other = createAddressGuard({ allowPrivate: false, allowCidrs: [sibling(cidr), ...UNRELATED] })(checked);
        assert.equal(other.allowed, false, `${sibling(cidr)} must not allow ${checked}`);
      }
    });
  }

  test('public unicast addresses (and their NAT64 / 6to4 / mapped forms) are allowed by default', () => {
    for (const p of PUBLIC) {
      const host = hostOf(p.input);
      if (p.host !== undefined) assert.equal(host, p.host);
      const verdict = defaultGuard(host);
      assert.deepEqual(verdict, { allowed: true, address: bare(host), range: 'unicast', reason: undefined }, p.input);
    }
  });

  test('reason messages are short and human', () => {
    assert.equal(defaultGuard('10.0.0.1').reason, 'callback address 10.0.0.1 is private');
    assert.equal(defaultGuard('169.254.169.254').reason, 'callback address 169.254.169.254 is a cloud metadata endpoint');
    assert.equal(
      defaultGuard('[::ffff:7f00:1]').reason,
      'callback address ::ffff:7f00:1 (embedded IPv4 127.0.0.1) is loopback',
    );
  });

  test('a string that is not an IP address is invalid, even with allowPrivate', () => {
    for (const s of ['', 'example.com', 'localhost', '1.2.3.4.5', '256.0.0.1', '[::1', ':::1', 'fe80::1%']) {
      for (const guard of [defaultGuard, openGuard]) {
        const v = guard(s);
        assert.equal(v.allowed, false, s);
        assert.equal(v.range, 'invalid', s);
        assert.ok(v.reason?.includes('not an IP address'));
      }
    }
  });

  test('an invalid allow-list CIDR is rejected when the guard is built', () => {
    assert.throws(() => createAddressGuard({ allowPrivate: false, allowCidrs: ['10.0.0.0/33'] }), /invalid CIDR/);
    assert.throws(() => createAddressGuard({ allowPrivate: false, allowCidrs: ['nope'] }), /invalid CIDR/);
  });

  test('an IPv6 allow-list does not leak into IPv4 (except the IPv4-mapped range itself)', () => {
    const g = createAddressGuard({ allowPrivate: false, allowCidrs: ['::/0'] });
    assert.equal(g('127.0.0.1').allowed, false);
    assert.equal(g('::1').allowed, true);
  });
});

describe('address guard: properties', () => {
  const ranges: Array<[string, fc.Arbitrary<number[]>]> = [
    ['10/8', fc.tuple(fc.constant(10), fc.nat(255), fc.nat(255), fc.nat(255))],
    ['172.16/12', fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), fc.nat(255), fc.nat(255))],
    ['192.168/16', fc.tuple(fc.constant(192), fc.constant(168), fc.nat(255), fc.nat(255))],
    ['127/8', fc.tuple(fc.constant(127), fc.nat(255), fc.nat(255), fc.nat(255))],
    ['169.254/16', fc.tuple(fc.constant(169), fc.constant(254), fc.nat(255), fc.nat(255))],
  ];
  const arb = fc.oneof(...ranges.map(([, a]) => a)).map((o) => o.join('.'));

  test('random addresses in private, loopback and link-local ranges are refused, in every form', () => {
    fc.assert(
      fc.property(arb, (v4) => {
        const forms = [
          v4,
          `::ffff:${v4}`,
          new URL(`http://[::ffff:${v4}]/`).hostname, // hex form [::ffff:xxxx:xxxx]
          new URL(`http://[::${v4}]/`).hostname, // IPv4-compatible
          new URL(`http://[64:ff9b::${v4}]/`).hostname, // NAT64
          new URL(`http://${ipaddr.IPv4.parse(v4).toByteArray().reduce((n, b) => n * 256 + b, 0)}/`).hostname,
        ];
        for (const form of forms) {
          const verdict = defaultGuard(form);
          if (verdict.allowed) return false;
          if (!['private', 'loopback', 'linkLocal', 'metadata', 'unspecified'].includes(verdict.range)) return false;
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  test('an allow-list CIDR opts back in exactly its own addresses: the neighbours of a /32 stay refused', () => {
    const toInt = (o: number[]) => ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
    fc.assert(
      fc.property(arb, arb, fc.integer({ min: 8, max: 32 }), (base, v4, bits) => {
        const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
        const inside = ((toInt(base.split('.').map(Number)) & mask) >>> 0) === ((toInt(v4.split('.').map(Number)) & mask) >>> 0);
        const guard = createAddressGuard({ allowPrivate: false, allowCidrs: [`${base}/${bits}`] });
        return guard(v4).allowed === inside && guard(`::ffff:${v4}`).allowed === inside;
      }),
      { numRuns: 1000 },
    );
    const only1 = createAddressGuard({ allowPrivate: false, allowCidrs: ['127.0.0.1/32'] });
    assert.equal(only1('127.0.0.1').allowed, true);
    for (const neighbour of ['127.0.0.2', '127.0.0.0', '127.0.1.1', '127.1.0.1', '::ffff:127.0.0.2']) assert.equal(only1(neighbour).allowed, false, neighbour);
  });
});

// ---------------------------------------------------------------------------------------------
// End to end through undici against a real loopback server
// ---------------------------------------------------------------------------------------------

interface Seen {
  method: string | undefined;
  host: string | undefined;
}

describe('guarded connector through undici', () => {
  let server: http.Server;
  let port = 0;
  const seen: Seen[] = [];
  const agents: Agent[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ method: req.method, host: req.headers.host });
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function agentFor(policy: Partial<AddressPolicy>, lookup?: LookupFn): Agent {
    const guard = createAddressGuard({ allowPrivate: false, allowCidrs: [], ...policy });
    const agent = new Agent({ connect: createGuardedConnector({ guard, lookup, timeoutMs: 2000 }) });
    agents.push(agent);
    return agent;
  }

  async function post(url: string, dispatcher: Agent): Promise<string> {
    const res = await request(url, { method: 'POST', body: '{"ping":true}', dispatcher });
    return res.body.text();
  }

  async function assertBlocked(url: string, dispatcher: Agent, range?: string): Promise<void> {
    const before = seen.length;
    await assert.rejects(post(url, dispatcher), (err: unknown) => {
      const e = err as Error & { code?: string; cause?: { code?: string } };
      const blocked = e instanceof BlockedAddressError ? e : (e.cause as unknown);
      assert.ok(blocked instanceof BlockedAddressError, `expected an SSRF block, got ${String(err)}`);
      assert.equal(e.code ?? e.cause?.code, 'ERR_SSRF_BLOCKED');
      assert.equal(blocked.name, 'BlockedAddressError');
      if (range !== undefined) assert.equal(blocked.verdict.range, range);
      return true;
    });
    assert.equal(seen.length, before, 'the server must receive nothing');
  }

  function countingLookup(answers: Array<{ address: string; family: number }>): LookupFn & { calls: string[] } {
    const calls: string[] = [];
    const fn = (async (hostname: string) => {
      calls.push(hostname);
      return answers;
    }) as LookupFn & { calls: string[] };
    fn.calls = calls;
    return fn;
  }

  test('a loopback callback is refused by default', async () => {
    await assertBlocked(`http://127.0.0.1:${port}/hook`, agentFor({}), 'loopback');
  });

  test('every loopback address is refused, not only 127.0.0.1, and a /32 allow-list lets no neighbour through', async () => {
    for (const host of ['127.0.0.2', '127.1.2.3', '127.255.255.254']) await assertBlocked(`http://${host}:${port}/hook`, agentFor({}), 'loopback');
    await assertBlocked(`http://127.0.0.2:${port}/hook`, agentFor({ allowCidrs: ['127.0.0.1/32'] }), 'loopback');
    await assertBlocked(`http://receiver.test:${port}/hook`, agentFor({ allowCidrs: ['127.0.0.1/32'] }, countingLookup([{ address: '127.0.0.2', family: 4 }])), 'loopback');
    assert.equal(await post(`http://127.0.0.1:${port}/hook`, agentFor({ allowCidrs: ['127.0.0.1/32'] })), 'ok');
  });

  test('allowed with allowCidrs 127.0.0.0/8', async () => {
    assert.equal(await post(`http://127.0.0.1:${port}/hook`, agentFor({ allowCidrs: ['127.0.0.0/8'] })), 'ok');
  });

  test('allowed with allowPrivate', async () => {
    assert.equal(await post(`http://127.0.0.1:${port}/hook`, agentFor({ allowPrivate: true })), 'ok');
  });

  test('the decimal form http://2130706433:<port>/ is refused by default and allowed via the CIDR', async () => {
    const url = `http://2130706433:${port}/hook`;
    assert.equal(new URL(url).hostname, '127.0.0.1');
    await assertBlocked(url, agentFor({}), 'loopback');
    assert.equal(await post(url, agentFor({ allowCidrs: ['127.0.0.0/8'] })), 'ok');
  });

  test('IP literals skip DNS; bracketed IPv6 literals are checked without brackets', async () => {
    const lookup = countingLookup([{ address: '127.0.0.1', family: 4 }]);
    await assertBlocked(`http://127.0.0.1:${port}/`, agentFor({}, lookup), 'loopback');
    await assertBlocked(`http://[::1]:${port}/`, agentFor({}, lookup), 'loopback');
    await assertBlocked(`http://[::ffff:127.0.0.1]:${port}/`, agentFor({}, lookup), 'loopback');
    assert.equal(lookup.calls.length, 0);
  });

  test('a DNS name resolving to 127.0.0.1 is refused by default', async () => {
    const lookup = countingLookup([{ address: '127.0.0.1', family: 4 }]);
    await assertBlocked(`http://receiver.test:${port}/hook`, agentFor({}, lookup), 'loopback');
    assert.deepEqual(lookup.calls, ['receiver.test']);
  });

  test('a name resolving to one public and one private address is refused (rebinding style)', async () => {
    for (const answers of [
      [
        { address: '93.184.215.14', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      [
        { address: '2606:4700:4700::1111', family: 6 },
        { address: '::ffff:10.0.0.1', family: 6 },
      ],
    ]) {
      const lookup = countingLookup(answers);
      await assertBlocked(`http://rebind.test:${port}/hook`, agentFor({}, lookup));
    }
  });

  test('pinning: one lookup per connection, connects to the checked address, keeps the Host header', async () => {
    const lookup = countingLookup([{ address: '127.0.0.1', family: 4 }]);
    const before = seen.length;
    const body = await post(`http://receiver.test:${port}/hook`, agentFor({ allowCidrs: ['127.0.0.0/8'] }, lookup));
    assert.equal(body, 'ok');
    assert.deepEqual(lookup.calls, ['receiver.test'], 'exactly one lookup for the connection');
    assert.equal(seen.length, before + 1);
    assert.deepEqual(seen.at(-1), { method: 'POST', host: `receiver.test:${port}` });
  });

  test('a DNS failure passes the DNS error through', async () => {
    const dnsError = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), {
      code: 'ENOTFOUND',
      hostname: 'nowhere.test',
    });
    const lookup: LookupFn = async () => {
      throw dnsError;
    };
    await assert.rejects(post(`http://nowhere.test:${port}/`, agentFor({ allowPrivate: true }, lookup)), (err: unknown) => {
      assert.equal(err, dnsError);
      return true;
    });
    const empty: LookupFn = async () => [];
    await assert.rejects(post(`http://empty.test:${port}/`, agentFor({ allowPrivate: true }, empty)), {
      code: 'ENOTFOUND',
    });
  });

  test('the default lookup resolves "localhost" through the system resolver and refuses it', async () => {
    await assertBlocked(`http://localhost:${port}/`, agentFor({}), 'loopback');
  });

  test('TLS: the original host name is sent as SNI; IP literals send none', async () => {
    // A raw TCP server that captures the ClientHello and hangs up: SNI is plaintext in it.
    const hellos: Buffer[] = [];
    const raw = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        hellos.push(chunk);
        socket.destroy();
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const rawPort = (raw.address() as AddressInfo).port;
    try {
      const lookup = countingLookup([{ address: '127.0.0.1', family: 4 }]);
      const agent = agentFor({ allowCidrs: ['127.0.0.0/8'] }, lookup);
      await assert.rejects(post(`https://receiver.test:${rawPort}/hook`, agent));
      assert.equal(hellos.length, 1);
      assert.ok(hellos[0]?.includes('receiver.test'), 'SNI carries the original host name');
      assert.deepEqual(lookup.calls, ['receiver.test']);

      await assert.rejects(post(`https://127.0.0.1:${rawPort}/hook`, agent));
      assert.equal(hellos.length, 2);
      assert.ok(!hellos[1]?.includes('127.0.0.1'), 'no SNI for an IP literal');
      assert.ok(!hellos[1]?.includes('receiver.test'));
    } finally {
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });
});

describe('BlockedAddressError', () => {
  test('carries name, code, verdict and a readable message', () => {
    const verdict: AddressVerdict = defaultGuard('10.0.0.1');
    const err = new BlockedAddressError(verdict, 'internal.test');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'BlockedAddressError');
    assert.equal(err.code, 'ERR_SSRF_BLOCKED');
    assert.equal(err.verdict, verdict);
    assert.equal(err.message, 'callback address 10.0.0.1 is private (resolved from internal.test)');
    assert.equal(new BlockedAddressError(verdict, '10.0.0.1').message, 'callback address 10.0.0.1 is private');
  });
});
