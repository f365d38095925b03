// The service's configuration: environment variables parsed once by zod. The API, the worker and
// the worker's sandboxed child all read it from the environment, so a child process sees exactly
// the parent's settings (configToEnv is the inverse used when a parent hands its config down).
// Each variable is declared once, in SETTINGS (see src/settings.ts): its name, its Config key, its
// schema and its line in the README (`npm run docs:config` rewrites the tables from here).
import { DEFAULT_ZIP_LIMITS } from './io/model-zip.js';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ENGINE_SETTINGS } from './engine/settings.js';
import { parseSettings, setting, settingsToEnv, type Values } from './settings.js';
import { parseCidr } from './webhooks/targets.js';

export { ConfigError } from './settings.js';

// LOPPER_BACKEND is listed among the service's basics; the engine's other settings at the end.
const { LOPPER_BACKEND, ...ENGINE_TUNING } = ENGINE_SETTINGS;

const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = (fallback: 'true' | 'false') =>
  z
    .enum(['true', 'false'])
    .default(fallback)
    .transform((v) => v === 'true');

/** A comma-separated list of CIDR ranges or single addresses; each bad entry is named. */
const cidrList = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const entries = text
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    for (const entry of entries) {
      if (!parseCidr(entry))
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(entry)} is not a CIDR range or IP address` });
    }
    return entries;
  });

export const SETTINGS = {
  PORT: setting('port', z.coerce.number().int().min(0).max(65535).default(8080), 'service', 'API port'),
  HOST: setting('host', z.string().min(1).default('0.0.0.0'), 'service', 'API listen address'),
  REDIS_URL: setting(
    'redisUrl',
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    'service',
    "Redis for the queue and Lopper's records. `npm start` spawns `redis-server` (append-only persistence under `DATA_DIR/redis`) when nothing answers on a local address, and stops it on exit",
  ),
  // Absolute once loaded: workers and the API may run with different working directories.
  DATA_DIR: setting(
    'dataDir',
    z
      .string()
      .min(1)
      .default('./data')
      .transform((d) => resolve(d)),
    'service',
    'Artifact store (models/, datasets/, jobs/) and scratch space (tmp/). The API and all workers must share it (one volume, NFS, …)',
  ),
  LOPPER_PREFIX: setting(
    'prefix',
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "-" and "." only')
      .default('lopper'),
    'service',
    "Prefix of every Redis key, Lopper's records and BullMQ's",
  ),
  LOPPER_BACKEND,
  LOCK_DURATION_MS: setting('lockDurationMs', positive(30_000), 'service', "BullMQ job lock; a dead worker's job is retried after this"),
  STALLED_INTERVAL_MS: setting('stalledIntervalMs', positive(30_000), 'service', 'How often workers look for stalled jobs'),
  // A job whose attempt broke on our side (its process died, OOM, a crash, its worker vanished) is
  // started again, on any worker, until JOB_ATTEMPTS attempts have broken, waiting
  // JOB_BACKOFF_MS × 2^(n-1) before retry n; bad input fails at once. An attempt past
  // JOB_TIMEOUT_MS is killed and fails.
  JOB_ATTEMPTS: setting(
    'jobAttempts',
    z.coerce.number().int().min(1).max(100).default(3),
    'service',
    'Attempts that may break on our side (crash, OOM, dead worker) before the job fails; bad input is never retried, a hand-back on shutdown does not count',
  ),
  JOB_BACKOFF_MS: setting(
    'jobBackoffMs',
    z.coerce.number().int().min(0).default(5_000),
    'service',
    'Wait before retry n is this × 2^(n−1)',
  ),
  JOB_TIMEOUT_MS: setting('jobTimeoutMs', positive(24 * 3600_000), 'service', 'An attempt running longer is killed and the job fails'),
  WORKER_STALL_MS: setting(
    'workerStallMs',
    positive(10 * 60_000),
    'service',
    '`/readyz` marks a worker unhealthy when its job has not progressed for this long',
  ),
  SHUTDOWN_TIMEOUT_MS: setting(
    'shutdownTimeoutMs',
    positive(30_000),
    'service',
    'On SIGTERM, time the current job gets to finish; after that it stops at the next batch and returns to the queue, and the process exits 15 s later regardless',
  ),
  LOG_LEVEL: setting(
    'logLevel',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'service',
    'pino log level (JSON logs with request ids)',
  ),
  // Tenants' keys live in Redis (`lopper keys`). With neither a key nor AUTH_REQUIRED, the service
  // runs open and says so in its log.
  API_KEY: setting(
    'apiKey',
    z.string().min(1).optional(),
    'service',
    'Bootstrap admin key (tenant `default`); see [Access control](#access-control-tenants-keys-quotas-rate-limits)',
  ),
  AUTH_REQUIRED: setting('authRequired', flag('false'), 'service', '`true`: a key is needed even before any key exists (no open mode)'),
  DOCS_PUBLIC: setting(
    'docsPublic',
    flag('true'),
    'service',
    '`false` puts `/docs` and `/openapi.yaml` behind a key with the `read` scope',
  ),
  // Default quotas per tenant (an admin may override them per tenant).
  QUOTA_STORED_BYTES: setting('quotaStoredBytes', positive(100 * 1024 ** 3), 'access', 'default bytes of models + datasets per tenant'),
  QUOTA_MODELS: setting('quotaModels', positive(1000), 'access', 'default models per tenant'),
  QUOTA_DATASETS: setting('quotaDatasets', positive(1000), 'access', 'default datasets per tenant'),
  QUOTA_JOBS: setting('quotaJobs', positive(100), 'access', 'default queued + active jobs per tenant'),
  // Per-key request budget, shared by every API process through Redis.
  RATE_LIMIT_MAX: setting('rateLimitMax', positive(600), 'access', 'requests per key per window'),
  RATE_LIMIT_WINDOW_MS: setting('rateLimitWindowMs', positive(60_000), 'access', 'the rate-limit window'),
  // Webhooks (src/webhooks): targets in private, loopback, link-local and other special-purpose
  // ranges are refused unless WEBHOOK_ALLOW_CIDRS lists them.
  WEBHOOK_ALLOW_CIDRS: setting(
    'webhookAllowCidrs',
    cidrList,
    'webhooks',
    'comma-separated ranges or addresses allowed although special-purpose, e.g. `10.0.0.0/8,127.0.0.1`',
  ),
  WEBHOOK_ATTEMPTS: setting(
    'webhookAttempts',
    z.coerce.number().int().min(1).max(50).default(8),
    'webhooks',
    'tries per delivery, the first included',
  ),
  WEBHOOK_BACKOFF_MS: setting('webhookBackoffMs', positive(2_000), 'webhooks', 'wait before retry n is this × 2^(n−1)'),
  WEBHOOK_TIMEOUT_MS: setting('webhookTimeoutMs', positive(10_000), 'webhooks', 'whole exchange of one POST'),
  WEBHOOK_CONCURRENCY: setting(
    'webhookConcurrency',
    z.coerce.number().int().min(1).max(256).default(8),
    'webhooks',
    'deliveries at once per worker process',
  ),
  // Limits on untrusted uploads; they are inspected in sandboxed child processes (src/api/inspector.ts).
  MAX_UPLOAD_BYTES: setting(
    'maxUploadBytes',
    positive(DEFAULT_ZIP_LIMITS.maxBytes),
    'limits',
    'one upload request, and the unpacked size of a model zip or a dataset (413)',
  ),
  MAX_COMPRESSION_RATIO: setting(
    'maxCompressionRatio',
    z.coerce.number().min(2).default(DEFAULT_ZIP_LIMITS.maxRatio),
    'limits',
    'unpacked bytes per archive byte, judged past the first MiB (413)',
  ),
  INSPECT_TIMEOUT_MS: setting('inspectTimeoutMs', positive(20_000), 'limits', 'wall-clock deadline of one inspection (422)'),
  INSPECT_MEMORY_MB: setting(
    'inspectMemoryMb',
    z.coerce.number().int().min(128).default(4096),
    'limits',
    'heap and resident-memory cap of an inspector child (422)',
  ),
  INSPECT_CONCURRENCY: setting(
    'inspectConcurrency',
    z.coerce.number().int().min(1).max(64).default(2),
    'limits',
    'inspector children at once; up to 16 uploads per child wait, more get 503',
  ),
  MAX_MODEL_PARAMS: setting('maxModelParams', positive(500_000_000), 'limits', 'weights a model may imply'),
  MAX_MODEL_LAYERS: setting('maxModelLayers', positive(10_000), 'limits', 'layers in a model, nested models included'),
  MAX_CONFIG_DEPTH: setting('maxConfigDepth', positive(100), 'limits', 'JSON nesting depth of a model topology'),
  // Bounds on job parameters beyond the fixed sane ranges of src/request.ts.
  MAX_EPOCHS: setting('maxEpochs', positive(1000), 'limits', '`fineTune.epochs`'),
  MAX_BATCH_SIZE: setting('maxBatchSize', positive(8192), 'limits', '`fineTune.batchSize`'),
  MAX_CALIBRATION_SAMPLES: setting('maxCalibrationSamples', positive(1_000_000), 'limits', '`pruning.calibrationSamples`'),
  // A request body that brings fewer than UPLOAD_MIN_BYTES_PER_SEC over any UPLOAD_IDLE_TIMEOUT_MS
  // window (no bytes at all included) is cut off with 408.
  UPLOAD_IDLE_TIMEOUT_MS: setting(
    'uploadIdleTimeoutMs',
    positive(30_000),
    'limits',
    "the window over which a request body's rate is judged",
  ),
  UPLOAD_MIN_BYTES_PER_SEC: setting(
    'uploadMinBytesPerSec',
    z.coerce.number().int().min(0).default(1024),
    'limits',
    'slower bodies (an idle one included) are cut off with 408',
  ),
  // DATA_DIR/tmp entries no live request or job owns are removed once idle this long.
  TMP_GRACE_MS: setting(
    'tmpGraceMs',
    positive(15 * 60_000),
    'limits',
    'how long an unowned `DATA_DIR/tmp` entry must be idle before it is swept',
  ),
  TMP_SWEEP_INTERVAL_MS: setting('tmpSweepIntervalMs', positive(5 * 60_000), 'limits', 'how often the sweep runs'),
  // Read by the engine itself (src/engine/settings.ts); declared here too so that a bad value stops
  // the service at start, not the first job.
  ...ENGINE_TUNING,
} as const;

export type Config = Values<typeof SETTINGS>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseSettings(SETTINGS, env);
}

/** The environment that makes loadConfig return `config` (for child processes). */
export function configToEnv(config: Config): Record<string, string> {
  return settingsToEnv(SETTINGS, config);
}
