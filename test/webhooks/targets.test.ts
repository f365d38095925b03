// The webhook URL policy: the syntactic rules, every special-purpose address form refused by
// default (including the odd IPv4 spellings WHATWG URL parsing normalizes, and IPv4-mapped IPv6
// judged as its IPv4), WEBHOOK_ALLOW_CIDRS opening a range, public literals passing without DNS,
// and the connect-time lookup refusing a name that resolves to loopback.
import assert from 'node:assert/strict';
import { lookup } from 'node:dns';
import { describe, test } from 'node:test';
import { TargetError } from '../../src/errors.js';
import { parseTarget, TargetPolicy } from '../../src/webhooks/targets.js';

const isTargetError = (pattern: RegExp) => (e: unknown) => e instanceof TargetError && pattern.test(e.message);

describe('parseTarget', () => {
  test('http and https URLs with a host pass', () => {
    assert.equal(parseTarget('https://hooks.example.com/lopper?x=1').href, 'https://hooks.example.com/lopper?x=1');
    assert.equal(parseTarget('http://93.184.216.34:8080/').port, '8080');
  });

  test('other schemes, credentials, garbage and overlong URLs are refused with a reason', () => {
    assert.throws(() => parseTarget('ftp://example.com/'), isTargetError(/http or https, not ftp/));
    assert.throws(() => parseTarget('file:///etc/passwd'), isTargetError(/http or https/));
    assert.throws(() => parseTarget('https://user:pw@example.com/'), isTargetError(/user name or password/));
    assert.throws(() => parseTarget('https://user@example.com/'), isTargetError(/user name or password/));
    assert.throws(() => parseTarget('not a url'), isTargetError(/not a valid absolute URL/));
    assert.throws(() => parseTarget('/relative'), isTargetError(/not a valid absolute URL/));
    assert.throws(() => parseTarget(`https://example.com/${'a'.repeat(2048)}`), isTargetError(/longer than 2048/));
    // Fits as given, not once percent-encoded.
    assert.throws(() => parseTarget(`https://example.com/a${' '.repeat(1000)}b`), isTargetError(/longer than 2048/));
  });
});

describe('TargetPolicy', () => {
  const strict = new TargetPolicy();

  const REFUSED: [url: string, why: RegExp][] = [
    ['http://localhost/', /localhost resolves to an address that is not public/],
    ['http://127.0.0.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://127.255.0.9/', /loopback/],
    ['http://[::1]/', /::1 is a loopback address/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://10.1.2.3/', /private/],
    ['http://172.16.0.1/', /private/],
    ['http://172.31.255.255/', /private/],
    ['http://192.168.0.1/', /private/],
    ['http://[fd00::1]/', /private \(unique local\)/],
    ['http://[fe80::1]/', /link-local/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://0/', /unspecified/],
    ['http://[::]/', /the unspecified address/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://224.0.0.1/', /multicast/],
    ['http://[ff02::1]/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://240.0.0.1/', /reserved/],
    ['http://192.0.2.1/', /documentation/],
    ['http://[2001:db8::1]/', /documentation/],
    ['http://198.18.0.1/', /benchmarking/],
    // IPv4-mapped and NAT64 IPv6 are judged as the IPv4 address they reach.
    ['http://[::ffff:127.0.0.1]/', /::ffff:7f00:1 is a loopback address/],
    ['http://[::ffff:7f00:1]/', /loopback/],
    ['http://[::ffff:a9fe:a9fe]/', /link-local/],
    ['http://[0:0:0:0:0:ffff:10.0.0.1]/', /private/],
    ['http://[64:ff9b::7f00:1]/', /loopback/],
    // IPv4-compatible (deprecated) and 6to4 addresses embed an IPv4 address too.
    ['http://[::127.0.0.1]/', /not a global unicast/],
    ['http://[2002:7f00:1::]/', /6to4/],
    // WHATWG URL parsing turns these spellings of 127.0.0.1 into 127.0.0.1.
    ['http://2130706433/', /127\.0\.0\.1 is a loopback address/],
    ['http://0x7f.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://0177.0.0.1/', /127\.0\.0\.1 is a loopback address/],
    ['http://127.1/', /127\.0\.0\.1 is a loopback address/],
  ];
  for (const [raw, why] of REFUSED) {
    test(`refuses ${raw}`, async () => {
      await assert.rejects(strict.check(parseTarget(raw)), isTargetError(why));
    });
  }

  test('resolved addresses with a zone index are judged by the address', () => {
    assert.match(strict.refusal('fe80::1%eth0')!, /link-local/);
    assert.equal(strict.refusal('2606:2800:220:1:248:1893:25c8:1946'), null);
  });

  test('public literals pass without DNS, and check returns the address', async () => {
    assert.deepEqual(await strict.check(parseTarget('http://93.184.216.34/')), ['93.184.216.34']);
    assert.deepEqual(await strict.check(parseTarget('https://[2606:2800:220:1:248:1893:25c8:1946]/')), [
      '2606:2800:220:1:248:1893:25c8:1946',
    ]);
    // A NAT64 address of a public host is as public as the host.
    assert.deepEqual(await strict.check(parseTarget('http://[64:ff9b::5db8:d822]/')), ['64:ff9b::5db8:d822']);
  });

  test('WEBHOOK_ALLOW_CIDRS opens exactly what it lists', async () => {
    const loopback = new TargetPolicy(['127.0.0.1/32']);
    assert.deepEqual(await loopback.check(parseTarget('http://127.0.0.1:9/')), ['127.0.0.1']);
    assert.deepEqual(await loopback.check(parseTarget('http://2130706433/')), ['127.0.0.1']);
    // The mapped form reaches the same address, so the same entry allows it.
    assert.ok(await loopback.check(parseTarget('http://[::ffff:127.0.0.1]/')));
    await assert.rejects(loopback.check(parseTarget('http://127.0.0.2/')), isTargetError(/loopback/));
    await assert.rejects(loopback.check(parseTarget('http://[::1]/')), isTargetError(/loopback/));
    const lan = new TargetPolicy(['10.0.0.0/8', 'fd00::/8', '192.168.1.7']);
    assert.ok(await lan.check(parseTarget('http://10.200.0.1/')));
    assert.ok(await lan.check(parseTarget('http://[fd12::1]/')));
    assert.ok(await lan.check(parseTarget('http://192.168.1.7/')));
    await assert.rejects(lan.check(parseTarget('http://192.168.1.8/')), isTargetError(/private/));
    assert.throws(() => new TargetPolicy(['10.0.0.0/33']), isTargetError(/"10\.0\.0\.0\/33"/));
  });

  test('the connect-time lookup refuses names that resolve to refused addresses, in both call shapes', async () => {
    const call = (policy: TargetPolicy, all: boolean) =>
      new Promise<unknown>((resolve, reject) =>
        policy.lookup('localhost', { all }, (err, address) => (err ? reject(err) : resolve(address))),
      );
    await assert.rejects(call(strict, false), isTargetError(/localhost resolves to an address that is not public/));
    await assert.rejects(call(strict, true), isTargetError(/not public/));
    // With loopback allowed, it answers as dns.lookup does.
    const open = new TargetPolicy(['127.0.0.0/8', '::1/128']);
    const expected = await new Promise((resolve) => lookup('localhost', { all: true }, (_e, a) => resolve(a)));
    assert.deepEqual(await call(open, true), expected);
    assert.equal(typeof (await call(open, false)), 'string');
  });
});
