// The service entry point: `node dist/src/service.js [all|api|worker]`.
//   all (npm start):      API + one worker in this process (+ a local redis-server if needed)
//   api (npm run api):    the HTTP API only
//   worker (npm run worker): one worker only; run many, on many machines, against one Redis
// SIGTERM/SIGINT: the API stops accepting and finishes in-flight requests, the worker finishes or
// releases its job; past SHUTDOWN_TIMEOUT_MS + 15 s the process exits regardless.
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildApp } from './api/app.js';
import { loadConfig } from './config.js';
import { ensureRedis, type LocalRedis } from './queue/local-redis.js';

const MODES = ['all', 'api', 'worker'] as const;
type Mode = (typeof MODES)[number];

export async function main(argv: string[]): Promise<void> {
  const mode = (argv[0] ?? 'all') as Mode;
  if (!MODES.includes(mode)) throw new Error(`unknown mode "${mode}" (use: ${MODES.join(', ')})`);
  const config = loadConfig();
  const log = pino({ level: config.logLevel, name: 'lopper' });

  const localRedis: LocalRedis | null = mode === 'all' ? await ensureRedis(config.redisUrl, config.dataDir, log) : null;
  let app: Awaited<ReturnType<typeof buildApp>> | null = null;
  let worker: { close(): Promise<void> } | null = null;
  try {
    app = mode === 'worker' ? null : await buildApp({ config });
    // Imported here so `npm run api` never loads the worker's modules.
    worker = mode === 'api' ? null : await (await import('../workers/worker.js')).startWorker(config, { logger: log });
    if (app) await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await Promise.allSettled([app?.close(), worker?.close()]);
    await localRedis?.stop();
    throw err;
  }

  closeWithGrace({ delay: config.shutdownTimeoutMs + 15_000, logger: log }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error');
    else log.info({ signal }, 'shutting down');
    await Promise.all([app?.close(), worker?.close()]);
    await localRedis?.stop();
  });
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err?.stack ?? String(err));
  process.exit(1);
});
