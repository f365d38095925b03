// One webhook POST with node:http(s), shaped by what a receiver controls: it may answer slowly
// (one deadline covers connect, headers and body), answer with an endless body (at most
// MAX_RESPONSE_BYTES are read, then the socket is dropped), or redirect us somewhere the policy
// never judged (3xx is a failure, never followed). Network outcomes resolve as a result for the
// delivery log; only a policy refusal rejects, since retrying cannot fix it.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { TargetError } from '../errors.js';
import type { TargetPolicy } from './targets.js';

export const USER_AGENT = 'Lopper-Webhooks/1';
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface DeliveryResult {
  /** A 2xx answer. */
  ok: boolean;
  /** The HTTP status, or null when none came (refused, unreachable, timed out). */
  status: number | null;
  ms: number;
  error?: string;
}

/** POSTs `body` (JSON) to `url`; rejects with TargetError if the policy refuses the target. */
export async function postEvent(
  url: URL,
  body: string,
  headers: Record<string, string>,
  { timeoutMs, policy }: { timeoutMs: number; policy: TargetPolicy },
): Promise<DeliveryResult> {
  const started = performance.now();
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // A literal address never goes through `lookup`, so it is judged here; names are judged there.
  if (isIP(host)) await policy.check(url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<DeliveryResult>((resolve, reject) => {
    let settled = false;
    // Set once the status line is in: from then on the outcome is the status, whatever the body does.
    let answered: (() => void) | null = null;
    const finish = (status: number | null, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      const ms = Math.round(performance.now() - started);
      const ok = status !== null && status >= 200 && status < 300;
      resolve({ ok, status, ms, ...(error !== undefined ? { error } : {}) });
    };

    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'User-Agent': USER_AGENT },
      lookup: policy.lookup,
      // No pooled sockets: each attempt resolves and is judged afresh, and no connection is shared across tenants.
      agent: false,
    });
    const timer = setTimeout(() => (answered ? answered() : finish(null, `no answer within ${timeoutMs} ms`)), timeoutMs);

    req.on('error', (err) => {
      if (err instanceof TargetError && !settled) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      } else finish(null, err.message);
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? null;
      const error =
        status !== null && status >= 300 && status < 400
          ? `redirect (HTTP ${status}) not followed: webhook targets must answer themselves`
          : status !== null && status >= 200 && status < 300
            ? undefined
            : `HTTP ${status}`;
      const done = () => finish(status, error);
      answered = done;
      // The body is read (so the receiver can finish writing) but not kept, and not past the cap.
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= MAX_RESPONSE_BYTES) done();
      });
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.end(body);
  });
}
