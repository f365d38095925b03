// The service's configuration: environment variables parsed once by zod. The API, the worker and
// the worker's sandboxed child all read it from the environment, so a child process sees exactly
// the parent's settings (configToEnv is the inverse used when a parent hands its config down).
// Each variable is written once, in VARIABLES: its name, its Config key and its schema.
import { resolve } from 'node:path';
import { z } from 'zod';
import { BACKENDS } from './request.js';
import { parseCidr } from './webhooks/targets.js';

const positive = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** A comma-separated list of CIDR ranges or single addresses; each bad entry is named. */
const cidrList = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
    for (const entry of entries) {
      if (!parseCidr(entry)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(entry)} is not a CIDR range or IP address` });
    }
    return entries;
  });

const VARIABLES = {
  PORT: ['port', z.coerce.number().int().min(0).max(65535).default(8080)],
  HOST: ['host', z.string().min(1).default('0.0.0.0')],
  REDIS_URL: ['redisUrl', z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379')],
  // Absolute once loaded: workers and the API may run with different working directories.
  DATA_DIR: ['dataDir', z.string().min(1).default('./data').transform((d) => resolve(d))],
  MAX_UPLOAD_BYTES: ['maxUploadBytes', positive(2 * 1024 ** 3)],
  LOPPER_PREFIX: ['prefix', z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "-" and "." only').default('lopper')],
  LOPPER_BACKEND: ['backend', z.enum(BACKENDS).default('auto')],
  LOCK_DURATION_MS: ['lockDurationMs', positive(30_000)],
  STALLED_INTERVAL_MS: ['stalledIntervalMs', positive(30_000)],
  // A job whose attempt broke on our side (its process died, OOM, a crash, its worker vanished) is
  // started again, on any worker, until JOB_ATTEMPTS attempts have broken, waiting
  // JOB_BACKOFF_MS × 2^(n-1) before retry n; bad input fails at once. An attempt past
  // JOB_TIMEOUT_MS is killed and fails.
  JOB_ATTEMPTS: ['jobAttempts', z.coerce.number().int().min(1).max(100).default(3)],
  JOB_BACKOFF_MS: ['jobBackoffMs', z.coerce.number().int().min(0).default(5_000)],
  JOB_TIMEOUT_MS: ['jobTimeoutMs', positive(24 * 3600_000)],
  // /readyz calls a worker unhealthy when its current job has not progressed for this long.
  WORKER_STALL_MS: ['workerStallMs', positive(10 * 60_000)],
  SHUTDOWN_TIMEOUT_MS: ['shutdownTimeoutMs', positive(30_000)],
  LOG_LEVEL: ['logLevel', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')],
  // Bootstrap admin key (tenant "default"); tenants' keys live in Redis (`lopper keys`). With
  // neither (and AUTH_REQUIRED unset), the service runs open and says so in its log.
  API_KEY: ['apiKey', z.string().min(1).optional()],
  // Never run open, even before the first key exists (keys then come from `lopper keys create`).
  AUTH_REQUIRED: ['authRequired', z.enum(['true', 'false']).default('false').transform((v) => v === 'true')],
  DOCS_PUBLIC: ['docsPublic', z.enum(['true', 'false']).default('true').transform((v) => v === 'true')],
  // Per-key request budget, shared by every API process through Redis.
  RATE_LIMIT_MAX: ['rateLimitMax', positive(600)],
  RATE_LIMIT_WINDOW_MS: ['rateLimitWindowMs', positive(60_000)],
  // Default quotas per tenant (an admin may override them per tenant): bytes of models + datasets,
  // model and dataset counts, and queued + active jobs.
  QUOTA_STORED_BYTES: ['quotaStoredBytes', positive(100 * 1024 ** 3)],
  QUOTA_MODELS: ['quotaModels', positive(1000)],
  QUOTA_DATASETS: ['quotaDatasets', positive(1000)],
  QUOTA_JOBS: ['quotaJobs', positive(100)],
  // Untrusted uploads are inspected in sandboxed child processes (src/api/inspector.ts).
  INSPECT_TIMEOUT_MS: ['inspectTimeoutMs', positive(20_000)],
  INSPECT_MEMORY_MB: ['inspectMemoryMb', z.coerce.number().int().min(128).default(4096)],
  INSPECT_CONCURRENCY: ['inspectConcurrency', z.coerce.number().int().min(1).max(64).default(2)],
  MAX_MODEL_PARAMS: ['maxModelParams', positive(500_000_000)],
  MAX_MODEL_LAYERS: ['maxModelLayers', positive(10_000)],
  MAX_CONFIG_DEPTH: ['maxConfigDepth', positive(100)],
  MAX_COMPRESSION_RATIO: ['maxCompressionRatio', z.coerce.number().min(2).default(200)],
  // A request body that brings fewer than UPLOAD_MIN_BYTES_PER_SEC over any UPLOAD_IDLE_TIMEOUT_MS
  // window (no bytes at all included) is cut off with 408.
  UPLOAD_IDLE_TIMEOUT_MS: ['uploadIdleTimeoutMs', positive(30_000)],
  UPLOAD_MIN_BYTES_PER_SEC: ['uploadMinBytesPerSec', z.coerce.number().int().min(0).default(1024)],
  // Bounds on job parameters beyond the fixed sane ranges of src/request.ts.
  MAX_EPOCHS: ['maxEpochs', positive(1000)],
  MAX_BATCH_SIZE: ['maxBatchSize', positive(8192)],
  MAX_CALIBRATION_SAMPLES: ['maxCalibrationSamples', positive(1_000_000)],
  // DATA_DIR/tmp entries no live request or job owns are removed once idle this long.
  TMP_GRACE_MS: ['tmpGraceMs', positive(15 * 60_000)],
  TMP_SWEEP_INTERVAL_MS: ['tmpSweepIntervalMs', positive(5 * 60_000)],
  // Webhooks (src/webhooks): targets in private, loopback, link-local and other special-purpose
  // ranges are refused unless WEBHOOK_ALLOW_CIDRS lists them (e.g. 10.0.0.0/8,127.0.0.1). A failed
  // delivery is tried WEBHOOK_ATTEMPTS times in all, waiting WEBHOOK_BACKOFF_MS × 2^(n-1) before
  // retry n; each POST gets WEBHOOK_TIMEOUT_MS for the whole exchange.
  WEBHOOK_ALLOW_CIDRS: ['webhookAllowCidrs', cidrList],
  WEBHOOK_ATTEMPTS: ['webhookAttempts', z.coerce.number().int().min(1).max(50).default(8)],
  WEBHOOK_BACKOFF_MS: ['webhookBackoffMs', positive(2_000)],
  WEBHOOK_TIMEOUT_MS: ['webhookTimeoutMs', positive(10_000)],
  WEBHOOK_CONCURRENCY: ['webhookConcurrency', z.coerce.number().int().min(1).max(256).default(8)],
} as const;

type Variables = typeof VARIABLES;
type Name = keyof Variables;
export type Config = { -readonly [N in Name as Variables[N][0]]: z.output<Variables[N][1]> };

const envSchema = z.object(Object.fromEntries(Object.entries(VARIABLES).map(([name, [, schema]]) => [name, schema])) as {
  [N in Name]: Variables[N][1];
});

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as docker compose and shells often pass VAR= through.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${why}`);
  }
  const values = parsed.data as Record<Name, unknown>;
  return Object.fromEntries((Object.keys(VARIABLES) as Name[]).map((n) => [VARIABLES[n][0], values[n]])) as Config;
}

/** The environment that makes loadConfig return `config` (for child processes). */
export function configToEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, [key]] of Object.entries(VARIABLES)) {
    const value = (config as Record<string, unknown>)[key];
    if (value !== undefined) env[name] = String(value);
  }
  return env;
}
