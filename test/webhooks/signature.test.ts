// Webhook signatures: a signed body verifies; a changed body, an old or future timestamp, another
// secret or a malformed header does not; several v1= entries (secret rotation) are accepted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signPayload, verifySignature } from '../../src/webhooks/signature.js';

const SECRET = 'whsec_test-secret';
const BODY = '{"id":"d1","type":"job.completed","createdAt":"2024-01-01T00:00:00.000Z","data":{"id":"j1"}}';
const T = 1_700_000_000;
const at = (s: number) => new Date(s * 1000);

test('the header has the documented form and verifies', () => {
  const header = signPayload(SECRET, T, BODY);
  assert.match(header, /^t=1700000000,v1=[0-9a-f]{64}$/);
  assert.equal(verifySignature(SECRET, header, BODY, { now: at(T) }), true);
  assert.equal(verifySignature(SECRET, header, BODY, { now: at(T + 299) }), true);
});

test('tampered body, old or future timestamp, wrong secret and malformed headers are refused', () => {
  const header = signPayload(SECRET, T, BODY);
  assert.equal(verifySignature(SECRET, header, BODY.replace('completed', 'failed'), { now: at(T) }), false);
  assert.equal(verifySignature(SECRET, header, BODY, { now: at(T + 301) }), false);
  assert.equal(verifySignature(SECRET, header, BODY, { now: at(T - 301) }), false);
  assert.equal(verifySignature(SECRET, header, BODY, { now: at(T + 3600), toleranceS: 7200 }), true);
  assert.equal(verifySignature('whsec_other', header, BODY, { now: at(T) }), false);
  // A fresh t with the old MAC: the timestamp is inside the MAC.
  assert.equal(verifySignature(SECRET, header.replace(`t=${T}`, `t=${T + 1}`), BODY, { now: at(T) }), false);
  for (const bad of [undefined, '', 'v1=abc', `t=${T}`, `t=${T},v1=zz`, `t=x,${header.split(',')[1]}`]) {
    assert.equal(verifySignature(SECRET, bad, BODY, { now: at(T) }), false, String(bad));
  }
});

test('any of several v1 entries may match (secret rotation)', () => {
  const mine = signPayload(SECRET, T, BODY).split(',')[1];
  const other = signPayload('whsec_old', T, BODY).split(',')[1];
  assert.equal(verifySignature(SECRET, `t=${T},${other},${mine}`, BODY, { now: at(T) }), true);
  assert.equal(verifySignature('whsec_old', `t=${T}, ${other}, ${mine}`, BODY, { now: at(T) }), true);
  assert.equal(verifySignature('whsec_third', `t=${T},${other},${mine}`, BODY, { now: at(T) }), false);
});
