// The service's configuration: environment variables parsed once by zod. The API, the worker and
// the worker's sandboxed child all read it from the environment, so a child process sees exactly
// the parent's settings (configToEnv is the inverse used when a parent hands its config down).
import { resolve } from 'node:path';
import { z } from 'zod';
import { BACKENDS } from './request.js';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  DATA_DIR: z.string().min(1).default('./data'),
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  LOPPER_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "-" and "." only').default('lopper'),
  LOPPER_BACKEND: z.enum(BACKENDS).default('auto'),
  LOCK_DURATION_MS: ms(30_000),
  STALLED_INTERVAL_MS: ms(30_000),
  MAX_STALLED_COUNT: z.coerce.number().int().min(0).default(1),
  SHUTDOWN_TIMEOUT_MS: ms(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  API_KEY: z.string().min(1).optional(),
});

export interface Config {
  port: number;
  host: string;
  redisUrl: string;
  /** Absolute: workers and the API may run with different working directories. */
  dataDir: string;
  maxUploadBytes: number;
  /** Prefix of every Redis key Lopper writes (its records and BullMQ's queue). */
  prefix: string;
  backend: (typeof BACKENDS)[number];
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  shutdownTimeoutMs: number;
  logLevel: string;
  apiKey?: string;
}

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
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    dataDir: resolve(e.DATA_DIR),
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    prefix: e.LOPPER_PREFIX,
    backend: e.LOPPER_BACKEND,
    lockDurationMs: e.LOCK_DURATION_MS,
    stalledIntervalMs: e.STALLED_INTERVAL_MS,
    maxStalledCount: e.MAX_STALLED_COUNT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    apiKey: e.API_KEY,
  };
}

/** The environment that makes loadConfig return `config` (for child processes). */
export function configToEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {
    PORT: String(config.port),
    HOST: config.host,
    REDIS_URL: config.redisUrl,
    DATA_DIR: config.dataDir,
    MAX_UPLOAD_BYTES: String(config.maxUploadBytes),
    LOPPER_PREFIX: config.prefix,
    LOPPER_BACKEND: config.backend,
    LOCK_DURATION_MS: String(config.lockDurationMs),
    STALLED_INTERVAL_MS: String(config.stalledIntervalMs),
    MAX_STALLED_COUNT: String(config.maxStalledCount),
    SHUTDOWN_TIMEOUT_MS: String(config.shutdownTimeoutMs),
    LOG_LEVEL: config.logLevel,
  };
  if (config.apiKey) env.API_KEY = config.apiKey;
  return env;
}
