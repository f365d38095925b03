// Job records in Redis: one hash per job, per-tenant indexes by creation time (all and per state), and
// membership in the `users` sets of the model and datasets the job reads. State changes go through
// one Lua script so that "only from these states" (e.g. never active → queued after a cancel) holds
// even when the API and a worker race, and indexes and users sets move with the state.
import type { Redis } from 'ioredis';
import type { Problem } from '../errors.js';
import type { JobRequest } from '../queue/payload.js';
import type { Stage } from '../request.js';
import { template, type RedisKeys } from './keys.js';
import { pageNewestFirst, sortKey } from './paging.js';

export const JOB_STATES = ['queued', 'active', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINISHED_STATES: readonly JobState[] = ['completed', 'failed', 'cancelled'];

export interface ArtifactRecord {
  name: string;
  bytes: number;
  sha256: string;
}

export interface EpochMetric {
  epoch: number;
  loss: number;
  evalAccuracy?: number | null;
  seconds?: number;
}

/** One start of a job by a worker, and how it ended (null while it runs). */
export interface AttemptRecord {
  attempt: number;
  workerId: string;
  startedAt: string;
  endedAt: string | null;
  /** completed · failed (bad input) · cancelled · released (worker shut down) · error (ours;
   * retried while attempts remain) · crashed (its process died) · timed-out · lost (its worker
   * vanished; found by the stall check) */
  outcome: 'completed' | 'failed' | 'cancelled' | 'released' | 'error' | 'crashed' | 'timed-out' | 'lost' | null;
  detail?: string;
  /** Set when the attempt continued from the checkpoint an earlier one left after this epoch. */
  resumedFromEpoch?: number;
}

/** `log` with its running attempt (the last, if it has not ended) ended now as `outcome`. */
export function endAttempt(log: AttemptRecord[], outcome: NonNullable<AttemptRecord['outcome']>, detail?: string): AttemptRecord[] {
  const last = log[log.length - 1];
  if (!last || last.endedAt !== null) return log;
  return [...log.slice(0, -1), { ...last, endedAt: new Date().toISOString(), outcome, ...(detail ? { detail } : {}) }];
}

export interface JobRecord {
  id: string;
  tenant: string;
  state: JobState;
  stage: Stage | null;
  progress: number;
  epoch: number | null;
  step: number | null;
  loss: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  request: JobRequest;
  metrics: { epochs: EpochMetric[] };
  report: unknown;
  error: Problem | null;
  artifacts: ArtifactRecord[];
  /** Set by POST /cancel on an active job; a worker starting (or restarting) the job honours it. */
  cancelRequested: boolean;
  /** How many times a worker started the job (a retry after a stall counts again). */
  attempts: number;
  /** Every start, oldest first. */
  attemptLog: AttemptRecord[];
}

// Stored as plain strings so the Lua scripts can read them; every other field is JSON.
const RAW_FIELDS = new Set(['id', 'tenant', 'state', 'sortKey', 'modelId', 'datasetId', 'evalDatasetId']);

function encode(fields: Partial<JobRecord>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out.push(k, RAW_FIELDS.has(k) ? String(v) : JSON.stringify(v));
  }
  return out;
}

function decode(hash: Record<string, string>): JobRecord {
  const rec: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hash)) {
    if (k === 'sortKey' || k === 'modelId' || k === 'datasetId' || k === 'evalDatasetId') continue; // index helpers
    rec[k] = RAW_FIELDS.has(k) ? v : JSON.parse(v);
  }
  return rec as unknown as JobRecord;
}

// KEYS: job, model, dataset, evalDataset, model users, dataset users, evalDataset users, jobs,
// jobs:queued, jobs:active (the last three the tenant's). ARGV: job id, index member, the tenant's
// jobs quota, field/value pairs. → 'ok', 'quota', or the name of the missing reference.
const CREATE = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 'modelId' end
if redis.call('EXISTS', KEYS[3]) == 0 then return 'datasetId' end
if redis.call('EXISTS', KEYS[4]) == 0 then return 'evalDatasetId' end
if redis.call('ZCARD', KEYS[9]) + redis.call('ZCARD', KEYS[10]) >= tonumber(ARGV[3]) then return 'quota' end
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[8], 0, ARGV[2])
redis.call('ZADD', KEYS[9], 0, ARGV[2])
return 'ok'`;

// KEYS: job. ARGV: allowed current states (comma list), new state or '', the templates of a
// tenant's per-state index ({tenant}, {state}) and of a record's users set ({id}; model, dataset),
// field/value pairs. → {1, state after, 1 if the state changed} when applied, {0, current state or ''}
// when refused. (Lopper targets a single Redis, not Redis Cluster, so derived keys are fine.)
const TRANSITION = `
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then return {0, ''} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == cur then allowed = true end
end
if not allowed then return {0, cur} end
if #ARGV > 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 6)) end
local new = ARGV[2]
if new == '' or new == cur then return {1, cur, 0} end
local member = redis.call('HGET', KEYS[1], 'sortKey')
local byState = string.gsub(ARGV[3], '{tenant}', redis.call('HGET', KEYS[1], 'tenant'))
redis.call('HSET', KEYS[1], 'state', new)
redis.call('ZREM', (string.gsub(byState, '{state}', cur)), member)
redis.call('ZADD', (string.gsub(byState, '{state}', new)), 0, member)
if new == 'completed' or new == 'failed' or new == 'cancelled' then
  local id = redis.call('HGET', KEYS[1], 'id')
  local refs = redis.call('HMGET', KEYS[1], 'modelId', 'datasetId', 'evalDatasetId')
  if refs[1] then redis.call('SREM', (string.gsub(ARGV[4], '{id}', refs[1])), id) end
  if refs[2] then redis.call('SREM', (string.gsub(ARGV[5], '{id}', refs[2])), id) end
  if refs[3] then redis.call('SREM', (string.gsub(ARGV[5], '{id}', refs[3])), id) end
end
return {1, new, 1}`;

// Undoes CREATE when enqueueing fails, so a failed request leaves no record. KEYS: job; ARGV: the
// templates of a tenant's job index ({tenant}) and per-state index ({tenant}, {state}), of the
// users sets (model, dataset; {id}).
const DISCARD = `
local h = redis.call('HMGET', KEYS[1], 'id', 'state', 'sortKey', 'modelId', 'datasetId', 'evalDatasetId', 'tenant')
if not h[1] then return 0 end
redis.call('ZREM', (string.gsub(ARGV[1], '{tenant}', h[7])), h[3])
redis.call('ZREM', (string.gsub(string.gsub(ARGV[2], '{tenant}', h[7]), '{state}', h[2])), h[3])
redis.call('SREM', (string.gsub(ARGV[3], '{id}', h[4])), h[1])
redis.call('SREM', (string.gsub(ARGV[4], '{id}', h[5])), h[1])
if h[6] then redis.call('SREM', (string.gsub(ARGV[4], '{id}', h[6])), h[1]) end
redis.call('DEL', KEYS[1])
return 1`;

export type CreateOutcome = 'ok' | 'quota' | 'modelId' | 'datasetId' | 'evalDatasetId';

export interface Transition {
  /** The change applies only when the job is in one of these states. */
  from: readonly JobState[];
  to?: JobState;
  set?: Partial<Omit<JobRecord, 'id' | 'state'>>;
}

/** Told of every job that has just reached a finished state (webhooks listen here); handles its own errors. */
export type OnFinished = (rec: JobRecord) => Promise<void>;

export class JobStore {
  private readonly transitionTemplates: string[];

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly onFinished?: OnFinished,
  ) {
    this.transitionTemplates = [
      template(keys.jobsIn, '{tenant}', '{state}'),
      template(keys.users, 'model', '{id}'),
      template(keys.users, 'dataset', '{id}'),
    ];
  }

  /** A fresh record in state `queued` for `request`. */
  static newRecord(id: string, tenant: string, request: JobRequest, now = new Date()): JobRecord {
    return {
      id,
      tenant,
      state: 'queued',
      stage: null,
      progress: 0,
      epoch: null,
      step: null,
      loss: null,
      createdAt: now.toISOString(),
      startedAt: null,
      finishedAt: null,
      request,
      metrics: { epochs: [] },
      report: null,
      error: null,
      artifacts: [],
      cancelRequested: false,
      attempts: 0,
      attemptLog: [],
    };
  }

  /** Creates the job unless a reference is gone or its tenant already has `maxJobs` queued + active. */
  async create(rec: JobRecord, maxJobs: number): Promise<CreateOutcome> {
    const k = this.keys;
    const t = rec.tenant;
    const { modelId, datasetId } = rec.request;
    const evalId = rec.request.evalDatasetId ?? datasetId;
    const member = sortKey(Date.parse(rec.createdAt), rec.id);
    const fields = encode({ ...rec, sortKey: member, modelId, datasetId, evalDatasetId: rec.request.evalDatasetId } as Partial<JobRecord>);
    return (await this.redis.eval(
      CREATE,
      10,
      k.job(rec.id),
      k.record('model', modelId),
      k.record('dataset', datasetId),
      k.record('dataset', evalId),
      k.users('model', modelId),
      k.users('dataset', datasetId),
      k.users('dataset', evalId),
      k.jobs(t),
      k.jobsIn(t, 'queued'),
      k.jobsIn(t, 'active'),
      rec.id,
      member,
      maxJobs,
      ...fields,
    )) as CreateOutcome;
  }

  async discard(id: string): Promise<void> {
    const k = this.keys;
    await this.redis.eval(
      DISCARD,
      1,
      k.job(id),
      template(k.jobs, '{tenant}'),
      template(k.jobsIn, '{tenant}', '{state}'),
      template(k.users, 'model', '{id}'),
      template(k.users, 'dataset', '{id}'),
    );
  }

  /** Job `id`; given a tenant, only if it is that tenant's (another's job is as absent as a missing one). */
  async get(id: string, tenant?: string): Promise<JobRecord | null> {
    const hash = await this.redis.hgetall(this.keys.job(id));
    if (!hash.state || (tenant !== undefined && hash.tenant !== tenant)) return null;
    return decode(hash);
  }

  /** Whether job `id` is queued or active (its scratch space may be in use). */
  async isLive(id: string): Promise<boolean> {
    const state = (await this.redis.hget(this.keys.job(id), 'state')) as JobState | null;
    return state !== null && !FINISHED_STATES.includes(state);
  }

  async list(tenant: string, limit: number, cursor?: string, state?: JobState): Promise<{ items: JobRecord[]; nextCursor: string | null }> {
    const page = await pageNewestFirst(this.redis, state ? this.keys.jobsIn(tenant, state) : this.keys.jobs(tenant), limit, cursor);
    const pipe = this.redis.pipeline();
    for (const id of page.ids) pipe.hgetall(this.keys.job(id));
    const results = (await pipe.exec()) ?? [];
    const items = results
      .map(([, hash]) => hash as Record<string, string>)
      .filter((h) => h && h.state)
      .map(decode);
    return { items, nextCursor: page.nextCursor };
  }

  /** Applies `t` atomically; returns whether it applied and the job's state afterwards (null: no such job). */
  async transition(id: string, t: Transition): Promise<{ applied: boolean; state: JobState | null }> {
    const [applied, state, changed] = (await this.redis.eval(
      TRANSITION,
      1,
      this.keys.job(id),
      t.from.join(','),
      t.to ?? '',
      ...this.transitionTemplates,
      ...encode(t.set ?? {}),
    )) as [number, string, number?];
    // Every way a job ends passes here (worker, API cancel, BullMQ's own failures), so this is the
    // one place that announces it.
    if (changed === 1 && this.onFinished && FINISHED_STATES.includes(state as JobState)) {
      const rec = await this.get(id);
      if (rec) await this.onFinished(rec);
    }
    return { applied: applied === 1, state: state ? (state as JobState) : null };
  }
}
