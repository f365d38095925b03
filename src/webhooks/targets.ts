// Where Lopper may send a webhook. A callback URL comes from a tenant, and the worker that POSTs to
// it sits inside the operator's network, so an unchecked URL would let any tenant probe or hit
// internal services (SSRF): cloud metadata at 169.254.169.254, Redis on loopback, admin panels on
// 10/8. Only public unicast addresses are allowed, unless the operator lists a range in
// WEBHOOK_ALLOW_CIDRS (tests allow 127.0.0.1). A hostname is judged by every address it resolves
// to, and again at connect time (`lookup`), so DNS rebinding cannot swap in a refused address
// between the check and the connection.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import { lookup as dnsLookupAsync } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { TargetError } from '../errors.js';

export const MAX_URL_LENGTH = 2048;

/** A target refused by the URL rules or the address policy: permanent, retrying cannot help. */

/** The syntactic rules, before any address is looked at. Returns the parsed URL. */
export function parseTarget(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw new TargetError(`webhook URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetError('webhook URL is not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TargetError(`webhook URL must be http or https, not ${url.protocol.slice(0, -1)}`);
  // Credentials in a URL end up in logs and delivery records; a receiver should check the signature instead.
  if (url.username || url.password) throw new TargetError('webhook URL must not contain a user name or password');
  if (!url.hostname) throw new TargetError('webhook URL has no host');
  // Normalization (percent-encoding, punycode) can lengthen what was given.
  if (url.href.length > MAX_URL_LENGTH) throw new TargetError(`webhook URL is longer than ${MAX_URL_LENGTH} characters`);
  return url;
}

/** One WEBHOOK_ALLOW_CIDRS entry ("10.0.0.0/8", "::1/128" or a single address), or null if malformed. */
export function parseCidr(entry: string): { address: string; prefix: number; family: Family } | null {
  const [address, bits, extra] = entry.trim().split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return null;
  const max = version === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  const prefix = bits === undefined ? max : Number(bits);
  return prefix <= max ? { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' } : null;
}

// Special-purpose ranges (IANA registries) that a webhook has no business reaching. The first
// match names the refusal, so the narrow ranges come before the catch-alls.
const REFUSED: [label: string, cidr: string][] = [
  ['an unspecified ("this network") address', '0.0.0.0/8'],
  ['a private address', '10.0.0.0/8'],
  ['a shared (carrier-grade NAT) address', '100.64.0.0/10'],
  ['a loopback address', '127.0.0.0/8'],
  ['a link-local address', '169.254.0.0/16'],
  ['a private address', '172.16.0.0/12'],
  ['a reserved (IETF protocol) address', '192.0.0.0/24'],
  ['a documentation address', '192.0.2.0/24'],
  ['a reserved (6to4 relay) address', '192.88.99.0/24'],
  ['a private address', '192.168.0.0/16'],
  ['a benchmarking address', '198.18.0.0/15'],
  ['a documentation address', '198.51.100.0/24'],
  ['a documentation address', '203.0.113.0/24'],
  ['a multicast address', '224.0.0.0/4'],
  ['the broadcast address', '255.255.255.255/32'],
  ['a reserved address', '240.0.0.0/4'],
  ['the unspecified address', '::/128'],
  ['a loopback address', '::1/128'],
  ['a private (unique local) address', 'fc00::/7'],
  ['a link-local address', 'fe80::/10'],
  ['a private (site-local) address', 'fec0::/10'],
  ['a multicast address', 'ff00::/8'],
  ['a documentation address', '2001:db8::/32'],
  ['a documentation address', '3fff::/20'],
  ['a reserved (IETF protocol, Teredo) address', '2001::/23'],
  // 6to4 embeds an IPv4 address that a relay would reach on our behalf.
  ['a reserved (6to4) address', '2002::/16'],
  // Everything outside global unicast 2000::/3 (IPv4-compatible ::/96, local NAT64 64:ff9b:1::/48,
  // unassigned space); IPv4-mapped and well-known NAT64 addresses never get here (see asIPv4).
  ['not a global unicast address', '::/3'],
  ['not a global unicast address', '4000::/2'],
  ['not a global unicast address', '8000::/1'],
];

type Family = 'ipv4' | 'ipv6';

// One BlockList per family: a BlockList judges an IPv4 address against IPv6 subnets as its
// IPv4-mapped form, so ::/3 would otherwise swallow every IPv4 address.
function blockLists(cidrs: readonly string[]): Record<Family, BlockList> {
  const lists = { ipv4: new BlockList(), ipv6: new BlockList() };
  for (const entry of cidrs) {
    const cidr = parseCidr(entry);
    if (!cidr) throw new TargetError(`not a CIDR range or IP address: ${JSON.stringify(entry)}`);
    lists[cidr.family].addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return lists;
}

const REFUSED_LISTS = REFUSED.map(([label, cidr]) => ({ label, lists: blockLists([cidr]) }));

/** The eight 16-bit groups of an IPv6 address (which may end in a dotted quad). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number);
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...new Array(8 - front.length - back.length).fill(0), ...back];
}

/** The IPv4 address an IPv6 address stands for: IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d. */
function asIPv4(address: string): string | null {
  const g = ipv6Groups(address);
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  return mapped || nat64 ? [g[6] >> 8, g[6] & 0xff, g[7] >> 8, g[7] & 0xff].join('.') : null;
}

/** A URL hostname as an address: IPv6 literals come bracketed. */
const bare = (hostname: string) => (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname);

const HINT = 'WEBHOOK_ALLOW_CIDRS can allow it';

export class TargetPolicy {
  private readonly allowed: Record<Family, BlockList>;

  /** `allowCidrs`: ranges allowed although special-purpose (WEBHOOK_ALLOW_CIDRS). */
  constructor(allowCidrs: readonly string[] = []) {
    this.allowed = blockLists(allowCidrs);
  }

  /** Why `address` (an IP literal) is refused, or null when it may be reached. */
  refusal(address: string): string | null {
    // A zone index (fe80::1%eth0, as resolvers may answer) names an interface, not another address.
    let ip = address.split('%')[0];
    let family: Family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
    // Judged as the IPv4 address it reaches, so ::ffff:127.0.0.1 is loopback (and allowed with 127.0.0.1/32).
    const v4 = family === 'ipv6' ? asIPv4(ip) : null;
    if (v4) [ip, family] = [v4, 'ipv4'];
    if (this.allowed[family].check(ip, family)) return null;
    return REFUSED_LISTS.find(({ lists }) => lists[family].check(ip, family))?.label ?? null;
  }

  /** Refuses the URL if its host is, or resolves to any, refused address; returns the addresses. */
  async check(url: URL): Promise<string[]> {
    const host = bare(url.hostname);
    if (isIP(host)) {
      this.assertAllowed(host, host);
      return [host];
    }
    // Resolution failures are not TargetErrors: DNS may well answer on a later attempt.
    const addresses = (await dnsLookupAsync(host, { all: true })).map((a) => a.address);
    for (const address of addresses) this.assertAllowed(host, address);
    return addresses;
  }

  /** For http.request({ lookup }): resolves as dns.lookup does, failing if any address is refused,
   * so the socket connects only to an address judged just now. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const wantsAll = (options as LookupAllOptions).all === true;
    dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      try {
        if (addresses.length === 0) throw new Error(`${hostname} has no addresses`);
        for (const a of addresses) this.assertAllowed(hostname, a.address);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      if (wantsAll) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };

  private assertAllowed(host: string, address: string): void {
    const why = this.refusal(address);
    if (!why) return;
    // A name's addresses stay unsaid: tenants read these messages, and they must not learn how the
    // operator's internal names resolve.
    const what = host === address ? `${address} is ${why}` : `${host} resolves to an address that is not public`;
    throw new TargetError(`webhook target refused: ${what} (${HINT})`);
  }
}
