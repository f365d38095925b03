// Webhook signatures, so a receiver can tell Lopper's POSTs from anyone else's and refuse replays:
//   Lopper-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// The key is the tenant's secret string as UTF-8 (the "whsec_" prefix included). The timestamp is
// inside the MAC, so an old request cannot be replayed with a fresh t. A receiver may see several
// v1= entries (one per secret while secrets rotate) and accepts the request if any matches.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Lopper-Signature';
/** The event type, e.g. job.completed (also in the body). */
export const EVENT_HEADER = 'Lopper-Event';
/** The delivery id: the same on every retry of one delivery, so a receiver can drop duplicates. */
export const DELIVERY_HEADER = 'Lopper-Delivery';
/** The signed timestamp again, for receivers that log it; the signature header is authoritative. */
export const TIMESTAMP_HEADER = 'Lopper-Timestamp';

const mac = (secret: string, t: string, body: string) => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

/** The Lopper-Signature header value for `body` sent at `timestampSeconds`. */
export function signPayload(secret: string, timestampSeconds: number, body: string): string {
  const t = String(Math.floor(timestampSeconds));
  return `t=${t},v1=${mac(secret, t, body)}`;
}

/** Whether `header` signs `body` with `secret`, at a timestamp within `toleranceS` of `now`. */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  { toleranceS = 300, now = new Date() }: { toleranceS?: number; now?: Date } = {},
): boolean {
  if (!header) return false;
  let t: string | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1') candidates.push(value);
  }
  if (!t || !/^\d{1,12}$/.test(t)) return false;
  if (Math.abs(now.getTime() / 1000 - Number(t)) > toleranceS) return false;
  const expected = Buffer.from(mac(secret, t, body), 'hex');
  // Every candidate is compared (no early exit on a match) in constant time per candidate.
  let ok = false;
  for (const c of candidates) {
    const given = Buffer.from(c, 'hex');
    if (/^[0-9a-f]{64}$/i.test(c) && given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}
