// Request bodies that trickle in are cut off: a client that sends fewer than
// UPLOAD_MIN_BYTES_PER_SEC over any UPLOAD_IDLE_TIMEOUT_MS window (an idle one included) gets a 408
// problem and its connection closed, so it cannot hold a temp folder and a file descriptor for
// hours (uploads are streamed, and their handlers remove what they wrote when the stream breaks).
// Progress is read from the socket's byte counter, which leaves the body stream alone.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { problem } from '../../errors.js';
import { sendProblem } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    bodyWatch?: NodeJS.Timeout;
  }
}

export default fp(
  async function slowClients(app: FastifyInstance, opts: { windowMs: number; minBytesPerSec: number }) {
    const { windowMs } = opts;
    const minBytes = (opts.minBytesPerSec * windowMs) / 1000;
    const tick = Math.max(50, Math.min(1000, windowMs / 4));

    app.addHook('onRequest', async (req, reply) => {
      const socket = req.raw.socket;
      // Requests without a body are complete already; injected requests have no real socket.
      if (req.raw.complete || typeof socket?.bytesRead !== 'number') return;
      // Samples of the socket's byte counter over the last window.
      const samples: [at: number, bytes: number][] = [[Date.now(), socket.bytesRead]];
      req.bodyWatch = setInterval(() => {
        if (req.raw.complete || reply.sent || socket.destroyed) return clearInterval(req.bodyWatch);
        const now = Date.now();
        samples.push([now, socket.bytesRead]);
        while (samples.length > 1 && samples[1][0] <= now - windowMs) samples.shift();
        const [since, bytes] = samples[0];
        if (now - since < windowMs || socket.bytesRead - bytes >= minBytes) return;
        clearInterval(req.bodyWatch);
        req.log.info({ receivedBytes: socket.bytesRead }, 'request body too slow: cut off');
        reply.header('connection', 'close');
        reply.raw.once('finish', () => socket.destroy());
        const detail = `the request body arrived slower than ${opts.minBytesPerSec} bytes/s over ${windowMs} ms (UPLOAD_MIN_BYTES_PER_SEC, UPLOAD_IDLE_TIMEOUT_MS)`;
        sendProblem(reply, req, problem('request-timeout', 408, detail, { field: 'body' }));
      }, tick);
      req.bodyWatch.unref();
    });
    const stop = async (req: { bodyWatch?: NodeJS.Timeout }) => clearInterval(req.bodyWatch);
    app.addHook('onResponse', stop);
    app.addHook('onRequestAbort', stop);
  },
  { name: 'lopper-slow-clients' },
);
