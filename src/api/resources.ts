// How a job record is shown to clients: internal bookkeeping stays in Redis, artifacts get hrefs.
import type { JobRecord } from '../store/jobs.js';

export const jobHref = (id: string) => `/v1/jobs/${id}`;

export function jobResource(rec: JobRecord) {
  return {
    id: rec.id,
    tenant: rec.tenant,
    state: rec.state,
    stage: rec.stage,
    progress: rec.progress,
    epoch: rec.epoch,
    step: rec.step,
    loss: rec.loss,
    createdAt: rec.createdAt,
    startedAt: rec.startedAt,
    finishedAt: rec.finishedAt,
    cancelRequested: rec.cancelRequested,
    attempts: rec.attempts,
    attemptLog: rec.attemptLog ?? [],
    request: rec.request,
    metrics: rec.metrics,
    report: rec.report,
    error: rec.error,
    artifacts: rec.artifacts.map((a) => ({ ...a, href: `${jobHref(rec.id)}/artifacts/${a.name}` })),
  };
}
