// Liveness and readiness. /healthz only says the process answers; /readyz checks Redis and, for
// the operator's admin keys only, lists the workers that sent a heartbeat in the last minute (hosts, pids and
// backends are nobody else's business).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { problems, reply } from '../openapi.js';
import { readySchema as readyResource } from '../schemas.js';
import { isOperator } from '../plugins/auth.js';
import { pingRedis } from '../../queue/connection.js';
import { ApiError, RETRY_AFTER_S } from '../../errors.js';

const tags = ['service'];
const alive = z.object({ status: z.literal('ok') });

export default async function healthRoutes(app: FastifyInstance) {
  const { lopper } = app;

  app.get(
    '/healthz',
    { schema: { tags, operationId: 'healthz', summary: 'The process is alive.', response: { 200: reply(alive, 'Alive.') } } },
    async () => ({
      status: 'ok',
    }),
  );

  const readySchema = {
    tags,
    operationId: 'readyz',
    summary: "Redis is reachable. For the operator's admin keys, also the workers seen in the last minute and their backend.",
    response: { 200: reply(readyResource, 'Ready.'), ...problems(503) },
  };
  app.get('/readyz', { schema: readySchema }, async (req) => {
    try {
      await pingRedis(lopper.redis);
    } catch (err) {
      throw new ApiError('service-unavailable', 503, `Redis is not reachable: ${(err as Error).message}`, 'redis', {
        'retry-after': String(RETRY_AFTER_S),
      });
    }
    const principal = await app.authenticate(req).catch(() => null);
    if (!principal || !isOperator(principal)) return { status: 'ready' };
    const now = Date.now();
    // A worker whose job had not moved for WORKER_STALL_MS when it last beat is alive but stuck.
    const workers = (await lopper.workers.seen(now)).map((w) => ({
      ...w,
      healthy: !w.jobId || !w.progressAt || Date.parse(w.seenAt) - Date.parse(w.progressAt) <= lopper.config.workerStallMs,
    }));
    return {
      status: 'ready',
      redis: 'ok',
      // The backend jobs will run on: that of the most recently seen worker (null: no worker yet).
      backend: workers.sort((a, b) => b.seenAt.localeCompare(a.seenAt))[0]?.backend ?? null,
      unhealthyWorkers: workers.filter((w) => !w.healthy).length,
      workers,
    };
  });
}
